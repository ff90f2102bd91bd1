// The PostgreSQL ledger store: to be written (libpq), with the schema of schema.hpp.
#include <stdexcept>

#include "ledger/store.hpp"

namespace switchyard::ledger {

std::unique_ptr<Store> open_postgres_store(const std::string& url) {
    (void)url;
    throw std::runtime_error("PostgreSQL ledgers are not supported by this build yet; use a SQLite file");
}

}  // namespace switchyard::ledger
