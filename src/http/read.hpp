// Reading an HTTP/1.1 message into a Beast parser with the stream's own read_some: what
// http::async_read_header and http::async_read do, without their layers of composed operations
// (the hot path reads a head and a small body per request on both sides of the gateway); the
// request's body type, with room for the JSON parser's padding; and an arena that the heads of a
// request and its response are kept in, so that reading them allocates nothing.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <tuple>

#include "core/await.hpp"

namespace switchyard::wire {

// A request body read into a string with room reserved past its end for the JSON parser's
// padding (simdjson reads up to 64 bytes beyond the text), so that parsing it needs no copy and
// no second allocation.
struct PaddedBody {
    static constexpr std::size_t kPadding = 64;
    using value_type = std::string;
    static std::uint64_t size(const value_type& body) { return body.size(); }

    class reader {
    public:
        template <bool IsRequest, class Fields>
        reader(boost::beast::http::header<IsRequest, Fields>&, value_type& body) : body_(body) {}

        void init(const boost::optional<std::uint64_t>& length, boost::system::error_code& ec) {
            ec = {};
            if (!length) return;
            if (*length > body_.max_size() - kPadding) {
                ec = boost::beast::http::error::buffer_overflow;
                return;
            }
            body_.reserve(static_cast<std::size_t>(*length) + kPadding);
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
            const std::size_t extra = boost::beast::buffer_bytes(buffers);
            const std::size_t size = body_.size();
            if (extra > body_.max_size() - size) {
                ec = boost::beast::http::error::buffer_overflow;
                return 0;
            }
            body_.resize(size + extra);
            ec = {};
            char* dest = body_.data() + size;
            for (const auto piece : boost::beast::buffers_range_ref(buffers)) {
                std::memcpy(dest, piece.data(), piece.size());
                dest += piece.size();
            }
            return extra;
        }

        void finish(boost::system::error_code& ec) { ec = {}; }

    private:
        value_type& body_;
    };
};

// A bump arena for the heads of one request and its response (Beast's field containers allocate
// per header; here they take slices of one block a connection keeps, emptied between requests).
// What does not fit comes from the heap as usual.
class HeadArena {
public:
    static constexpr std::size_t kSize = 4096;

    HeadArena() = default;
    HeadArena(const HeadArena&) = delete;
    HeadArena& operator=(const HeadArena&) = delete;

    void* allocate(std::size_t bytes, std::size_t align) {
        const std::size_t at = (used_ + align - 1) & ~(align - 1);
        if (align <= alignof(std::max_align_t) && at <= kSize && bytes <= kSize - at) {
            used_ = at + bytes;
            return block_.data() + at;
        }
        return ::operator new(bytes, std::align_val_t(align));
    }
    void deallocate(void* pointer, std::size_t bytes, std::size_t align) noexcept {
        if (owns(pointer)) return;  // given back all at once by reset()
        ::operator delete(pointer, bytes, std::align_val_t(align));
    }
    // Only while nothing allocated here is in use (between requests).
    void reset() { used_ = 0; }

private:
    bool owns(const void* pointer) const {
        const auto at = reinterpret_cast<std::uintptr_t>(pointer);
        const auto begin = reinterpret_cast<std::uintptr_t>(block_.data());
        return at >= begin && at < begin + kSize;
    }

    alignas(std::max_align_t) std::array<std::byte, kSize> block_;
    std::size_t used_ = 0;
};

template <class T>
class ArenaAllocator {
public:
    using value_type = T;

    explicit ArenaAllocator(HeadArena& arena) noexcept : arena_(&arena) {}
    template <class U>
    ArenaAllocator(const ArenaAllocator<U>& other) noexcept : arena_(other.arena_) {}  // NOLINT: rebinding

    T* allocate(std::size_t n) { return static_cast<T*>(arena_->allocate(n * sizeof(T), alignof(T))); }
    void deallocate(T* pointer, std::size_t n) noexcept { arena_->deallocate(pointer, n * sizeof(T), alignof(T)); }

    template <class U>
    bool operator==(const ArenaAllocator<U>& other) const noexcept {
        return arena_ == other.arena_;
    }

private:
    template <class U>
    friend class ArenaAllocator;
    HeadArena* arena_;
};

using Fields = boost::beast::http::basic_fields<ArenaAllocator<char>>;
using Request = boost::beast::http::request<PaddedBody, Fields>;
using RequestParser = boost::beast::http::request_parser<PaddedBody, ArenaAllocator<char>>;
// An upstream's answer: its head in the connection's arena, its body parsed into the caller's
// relay buffer (buffer_body) as it arrives.
using ResponseParser = boost::beast::http::response_parser<boost::beast::http::buffer_body, ArenaAllocator<char>>;

// What a request's Transfer-Encoding fields, read in order as one list, say of its body's length
// (RFC 9112, sections 6.1 and 6.3). Beast's parser decodes a body as chunked only when "chunked"
// is the last coding, and otherwise takes it as having no body at all, leaving its bytes to be read
// as the next request: the gateway refuses such a request instead, and closes the connection. An
// upstream's answer is read with it too: one not framed by chunked alone is not relayed.
class TransferEncoding {
public:
    enum class Verdict {
        none,         // no Transfer-Encoding field
        chunked,      // chunked, once, and nothing else
        unsupported,  // chunked last, after a coding the gateway does not decode (gzip...): 501
        faulty,       // chunked not last, more than once, or no coding at all: the length is unknown: 400
    };

    // One Transfer-Encoding field's value: "coding [; params], ...".
    void add(std::string_view value);
    Verdict verdict() const;
    bool present() const { return fields_ > 0; }
    std::string_view unsupported() const { return other_; }  // the first coding other than chunked

private:
    std::size_t fields_ = 0;
    std::size_t codings_ = 0;
    std::size_t chunked_ = 0;
    bool last_chunked_ = false;
    std::string_view other_;
};

// The request headers the gateway reads that Beast has no code for (and Transfer-Encoding, which
// Beast keeps only the last word of), found in one pass over the head: Beast's lookup by name
// searches its tree with a case-insensitive comparison each time.
struct GatewayHeaders {
    std::string_view request_id;  // x-request-id
    std::string_view api_key;     // x-api-key
    std::string_view anthropic_version;  // anthropic-version (an Anthropic client)
    std::string_view timeout;     // x-switchyard-timeout
    bool debug = false;           // x-switchyard-debug: 1 (the gateway's own time in the answer)
    TransferEncoding transfer_encoding;
    std::size_t count = 0;  // header fields in all
};
GatewayHeaders gateway_headers(const Fields& fields);

enum class ReadUntil { header, message };

// Feeds `parser` what `buffer` holds (the bytes of a next message stay there), until the head or
// the whole message is parsed: no error once it is, need_more when bytes must be read first, or
// the parser's error (header_limit, body_limit, bad_*). No I/O: a request that arrived whole is
// parsed without a coroutine.
template <bool IsRequest>
boost::system::error_code feed(boost::beast::flat_buffer& buffer, boost::beast::http::basic_parser<IsRequest>& parser,
                               ReadUntil until) {
    namespace http = boost::beast::http;
    boost::system::error_code ec;
    while (until == ReadUntil::header ? !parser.is_header_done() : !parser.is_done()) {
        if (buffer.size() == 0) return http::error::need_more;
        const std::size_t used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec) return ec;
        if (used == 0) return http::error::need_more;
    }
    return {};
}

// How much to read next into `buffer`: what it holds spare, within [1 KiB, 64 KiB] (as Beast's
// reads size it).
inline std::size_t read_size(const boost::beast::flat_buffer& buffer) {
    return std::clamp<std::size_t>(buffer.capacity() - buffer.size(), 1024, 64 * 1024);
}

// Takes in a read of `n` bytes that ended with `read_ec`: the error that ends the message's
// reading (end_of_stream when the stream ended before any byte of it, partial_message when within
// it, the stream's own), or none to feed() again. The end of the stream also ends a body delimited
// by it.
template <bool IsRequest>
boost::system::error_code take_read(boost::beast::flat_buffer& buffer, boost::beast::http::basic_parser<IsRequest>& parser,
                                    const boost::system::error_code& read_ec, std::size_t n) {
    buffer.commit(n);
    if (read_ec == boost::asio::error::eof) {
        if (!parser.got_some()) return boost::beast::http::error::end_of_stream;
        boost::system::error_code ec;
        parser.put_eof(ec);
        return ec;
    }
    return read_ec;
}

// feed(), reading from `stream` while the parser needs more (the same errors as Beast's
// http::async_read_header and http::async_read).
template <typename Stream, bool IsRequest>
boost::asio::awaitable<boost::system::error_code> async_read_into(Stream& stream, boost::beast::flat_buffer& buffer,
                                                                  boost::beast::http::basic_parser<IsRequest>& parser,
                                                                  ReadUntil until) {
    while (true) {
        const boost::system::error_code ec = feed(buffer, parser, until);
        if (ec != boost::beast::http::error::need_more) co_return ec;
        auto [read_ec, n] = co_await stream.async_read_some(buffer.prepare(read_size(buffer)), await_tuple);
        if (const auto stop = take_read(buffer, parser, read_ec, n)) co_return stop;
    }
}

}  // namespace switchyard::wire
