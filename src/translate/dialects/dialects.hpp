// Each dialect's implementation of translate/dialect.hpp, one namespace a dialect (its .cpp file);
// translate/dialect.cpp dispatches to them. Internal to src/translate.
#pragma once

#include "translate/dialect.hpp"

#define SWITCHYARD_TRANSLATE_DIALECT(NS)                                                                      \
    namespace NS {                                                                                            \
    std::optional<ApiError> read_request(std::string_view body, Request& out);                                \
    std::optional<ApiError> write_request(const Request& request, const WriteOptions& options, std::string& out); \
    bool read_response(std::string_view body, Response& out);                                                 \
    void write_response(const Response& response, const AnswerOptions& options, std::string& out);            \
    bool read_error(std::string_view body, int status, Error& out);                                           \
    void write_error(const Error& error, std::string& out);                                                   \
    std::unique_ptr<StreamReader> make_reader(simdjson::ondemand::parser& parser);                            \
    std::unique_ptr<StreamWriter> make_writer(const AnswerOptions& options);                                  \
    }

namespace switchyard::translate {

SWITCHYARD_TRANSLATE_DIALECT(chat)
SWITCHYARD_TRANSLATE_DIALECT(responses)
SWITCHYARD_TRANSLATE_DIALECT(messages)

}  // namespace switchyard::translate

#undef SWITCHYARD_TRANSLATE_DIALECT
