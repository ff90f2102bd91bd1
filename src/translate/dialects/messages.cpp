// PLACEHOLDER: the messages dialect (translate/dialect.hpp), written by its helper. Not to land as is.
#include "translate/dialects/dialects.hpp"

namespace switchyard::translate::messages {

std::optional<ApiError> read_request(std::string_view, Request&) { return ApiError::server("not implemented"); }
std::optional<ApiError> write_request(const Request&, const WriteOptions&, std::string&) {
    return ApiError::server("not implemented");
}
bool read_response(std::string_view, Response&) { return false; }
void write_response(const Response&, const AnswerOptions&, std::string&) {}
bool read_error(std::string_view, int, Error&) { return false; }
void write_error(const Error&, std::string&) {}
std::unique_ptr<StreamReader> make_reader(simdjson::ondemand::parser&) { return nullptr; }
std::unique_ptr<StreamWriter> make_writer(const AnswerOptions&) { return nullptr; }

}  // namespace switchyard::translate::messages
