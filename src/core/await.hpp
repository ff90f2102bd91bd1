// The completion tokens the coroutines await asynchronous operations with:
//
//     auto [ec, n] = co_await socket.async_read_some(buffer, await_tuple);
//
// Both give the results as a tuple (an error is a value, not an exception).
//   - await_tuple starts the operation from the awaiting coroutine's own frame: what Asio's own
//     operations (sockets, timers, asio::async_write) are awaited with.
//   - await_tuple_framed wraps each operation in a coroutine frame of its own, allocated and freed
//     every time. For Beast's operations, which in Boost 1.81 take only completion tokens that
//     name a return type (deferred does not), and where one expression must give the same type for
//     two streams (Connection::visit).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace switchyard {

inline constexpr auto await_tuple = boost::asio::as_tuple(boost::asio::deferred);
inline constexpr auto await_tuple_framed = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace switchyard
