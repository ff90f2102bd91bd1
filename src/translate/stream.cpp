#include "translate/stream.hpp"

#include <cstring>

namespace switchyard::translate {

bool SseSplitter::take_line(std::string_view& bytes, std::string_view& line) {
    if (skip_lf_) {
        skip_lf_ = false;
        if (bytes.front() == '\n') {
            bytes.remove_prefix(1);
            if (bytes.empty()) return false;
        }
    }
    // The line's end: the first LF, or a CR before it (memchr twice: find_first_of looks at the
    // two-byte set once per byte, about half of a translated stream's CPU).
    const char* const begin = bytes.data();
    const auto* lf = static_cast<const char*>(std::memchr(begin, '\n', bytes.size()));
    const std::size_t before_lf = lf != nullptr ? static_cast<std::size_t>(lf - begin) : bytes.size();
    const auto* cr = static_cast<const char*>(std::memchr(begin, '\r', before_lf));
    const std::size_t end = cr != nullptr ? static_cast<std::size_t>(cr - begin)
                            : lf != nullptr ? before_lf
                                            : std::string_view::npos;
    if (end == std::string_view::npos) {
        pending_.append(bytes);
        bytes = {};
        return false;
    }
    std::size_t after = end + 1;
    if (bytes[end] == '\r') {
        if (after == bytes.size()) {
            skip_lf_ = true;  // CRLF cut between two reads
        } else if (bytes[after] == '\n') {
            ++after;
        }
    }
    if (pending_.empty()) {
        line = bytes.substr(0, end);
    } else {
        joined_.assign(pending_);
        joined_.append(bytes.substr(0, end));
        pending_.clear();
        line = joined_;
    }
    bytes.remove_prefix(after);
    return true;
}

void SseSplitter::field(std::string_view line) {
    if (line.empty() || line.front() == ':') return;  // a comment
    const std::size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == "event") {
        name_.assign(value);
    } else if (name == "data") {
        if (has_data_) data_ += '\n';
        data_.append(value);
        has_data_ = true;
    }
}

StreamTranslator::StreamTranslator(Dialect from, std::optional<Dialect> to, simdjson::ondemand::parser& parser,
                                   const AnswerOptions& options)
    : reader_(make_reader(from, parser)), writer_(to ? make_writer(*to, options) : nullptr) {}

void StreamTranslator::feed(std::string_view bytes, std::string& out) {
    out_ = &out;
    splitter_.feed(bytes, [this](std::string_view name, std::string_view data) { reader_->event(name, data, *this); });
    out_ = nullptr;
}

void StreamTranslator::end(std::string& out) {
    out_ = &out;
    splitter_.finish([this](std::string_view name, std::string_view data) { reader_->event(name, data, *this); });
    reader_->end(*this);
    out_ = nullptr;
}

void StreamTranslator::fail(const Error& error, std::string& out) {
    if (writer_ && !done_) writer_->fail(error, out);
    done_ = true;
}

void StreamTranslator::on(const Event& event) {
    if (done_) return;  // nothing after the end (a writer's stream is over)
    switch (event.kind) {
        case Event::Kind::delta: ++content_events_; break;
        case Event::Kind::finish: finished_ = true; break;
        case Event::Kind::error: failed_ = true; break;
        default: break;
    }
    if (writer_ && out_ != nullptr) writer_->write(event, *out_);
    if (event.kind == Event::Kind::done || event.kind == Event::Kind::error) done_ = true;
}

}  // namespace switchyard::translate
