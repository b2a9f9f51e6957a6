// proxy library
