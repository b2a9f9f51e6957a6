// The body type of the messages tally relays. Like Beast's buffer_body, the caller points
// `data` at free room in the relay buffer and the parser fills it; unlike it, bytes that were
// read into that room already (read_body_piece reads a body that is not chunked straight into
// the relay buffer) are only counted, not copied onto themselves. A 64 KiB response then costs
// no 64 KiB copy between the read buffer and the relay buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional/optional.hpp>

namespace tally::proxy {

struct in_place_body {
  struct value_type {
    void* data = nullptr;  // where the next body byte goes; null: no room (need_buffer)
    std::size_t size = 0;  // room left at `data`
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>& /*head*/, value_type& body)
        : body_(body) {}

    void init(const boost::optional<std::uint64_t>& /*length*/, boost::system::error_code& ec) {
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
      std::size_t taken = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers); ++it) {
        const boost::asio::const_buffer piece = *it;
        if (piece.size() == 0) continue;
        if (body_.data == nullptr || body_.size == 0) {
          ec = boost::beast::http::error::need_buffer;
          return taken;
        }
        const std::size_t n = piece.size() < body_.size ? piece.size() : body_.size;
        // Bytes read in place are where they belong already; chunked input is copied (its
        // framing sits between the pieces, so the output trails the input: memmove).
        if (piece.data() != body_.data) std::memmove(body_.data, piece.data(), n);
        body_.data = static_cast<char*>(body_.data) + n;
        body_.size -= n;
        taken += n;
        if (n < piece.size()) {
          ec = boost::beast::http::error::need_buffer;
          return taken;
        }
      }
      ec = {};
      return taken;
    }

    void finish(boost::system::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

}  // namespace tally::proxy
