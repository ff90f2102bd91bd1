// Property checks on the code that reads bytes a caller or an upstream controls, for fuzzing.
// Each takes any input, runs it through the gateway's own code, and checks what must hold whatever
// the bytes are, against a second opinion where there is one (simdjson's DOM parser, which
// validates the whole text). A violated property prints what and the input, then aborts: a
// libFuzzer run keeps the input as a crash, a replay test fails.
#pragma once

#include <string_view>

namespace switchyard::fuzz {

// parse::parse_request and parse::forward_body. The first byte picks the endpoint and the
// forwarding options; the rest is the request body.
//   - an accepted body is valid JSON, an object, whose (one) "model" is a string equal to the facts';
//   - a body refused as invalid_json is not valid JSON (or not an object);
//   - the forwarded body is valid JSON with the new model, include_usage set when asked, and every
//     other member unchanged, in order; parsed again, it gives the same facts but for those.
void parse_request(std::string_view input);

// parse::locate_json_error: no error exactly when the text is one valid JSON value (simdjson's
// verdict, but for the checks the locator leaves to simdjson: UTF-8, number ranges, depth); an
// error's offset lies within the text.
void locate_json_error(std::string_view input);

// usage::StreamScanner as the relay drives it. The first two bytes pick whether the usage event is
// stripped and how the stream is cut into reads; the rest is the upstream's stream.
//   - reads cut anywhere give the same bytes out, the same usage and content count as one read;
//   - what goes out is what came in, less whole usage events when they are stripped;
//   - with a relay buffer smaller than an event, everything still goes out, in order.
void stream_scanner(std::string_view input);

// translate::StreamTranslator from one dialect to another. The first byte picks the pair (byte % 9)
// and where the stream is cut in two reads (byte / 9 of 28ths); the rest is the upstream's stream.
//   - nothing crashes, whatever the bytes;
//   - the stream cut in two reads is translated to the same bytes as in one read;
//   - a stream whose every event's data is JSON is translated into one that follows the caller's
//     dialect: every data JSON (chat's [DONE] aside), Anthropic's and Responses' event names equal
//     to the data's type, Responses' sequence_number increasing.
void translate_stream(std::string_view input);

// translate::read_request in one dialect, then write_request in another. The first byte picks the
// pair (byte % 9); the rest is a request body, given to the reader only when the parse stage would
// pass it (a JSON object whose model is a string).
//   - nothing crashes, whatever the body;
//   - a body read and written is valid JSON.
void translate_request(std::string_view input);

// models::parse, our GGUF header reader. The input is a model file's first bytes.
//   - nothing crashes and nothing huge is allocated, whatever the bytes; a refusal says why;
//   - read through small windows at arbitrary offsets (as read_file reads a file) the result is the
//     same as read from memory: the same error, or the same keys, values and tensors;
//   - a header accepted as a whole file (tensor data within it) is accepted as a header alone;
//   - an accepted header's numbers hold together: the header within the input, the data offset
//     aligned and after it, every tensor's bytes its elements' blocks times the type's block size,
//     no array holding more values than its count.
void gguf_header(std::string_view input);

}  // namespace switchyard::fuzz
