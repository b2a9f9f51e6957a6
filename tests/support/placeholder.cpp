// Test support code lives in this folder.
