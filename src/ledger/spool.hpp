// The ledger's spool: rows the database could not take (down, slow, failing) wait in append-only
// files on local disk until the writer replays them, oldest first (docs/ledger.md, Durability).
// A file is the magic "SYSPOOL1", a header record naming the store its rows belong to, then one
// record a row: [payload length, u32][CRC-32 of the payload, u32][payload], little-endian. A batch
// is appended with one write and one fdatasync; a crash mid-append leaves at most a torn last
// record, which reading stops before. Each gateway appends to a file of its own in the spool
// directory, held with flock; a file no live gateway holds (its gateway crashed, or stopped with
// rows still spooled) is adopted by the next gateway of the same store to start there, replayed,
// then removed. Used by the ledger's writer thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/row.hpp"

namespace switchyard::ledger {

// The record format, pure (for tests and the reader).
inline constexpr std::string_view kSpoolMagic = "SYSPOOL1";
inline constexpr std::size_t kRecordHeaderSize = 8;
inline constexpr std::size_t kMaxRecordPayload = 16u << 20;  // a longer length is damage, not a row

void append_record(std::string& out, std::string_view payload);
std::string encode_row(const Row& row);
std::optional<Row> decode_row(std::string_view payload);  // nullopt: not a row of this format

enum class RecordStatus { ok, incomplete, corrupt };
struct Record {
    RecordStatus status = RecordStatus::incomplete;
    std::string_view payload;  // ok: the payload
    std::size_t size = 0;      // ok: the record's bytes; incomplete: the bytes it needs (header included)
};
// The record at the start of `bytes`. incomplete: `bytes` ends inside it; corrupt: its length is
// impossible or its checksum does not match.
Record next_record(std::string_view bytes);

// How a file's records end when it is opened again.
enum class SpoolTail {
    clean,    // after the last whole record
    torn,     // in a record cut short or garbled by a crash mid-append: ignored
    corrupt,  // in a bad record with more bytes after it: damage; the rest cannot be read
};

// One spool file.
class SpoolFile {
public:
    // A new file of this process in `dir` for `store`, locked, with its header; throws with the reason.
    static std::unique_ptr<SpoolFile> create(const std::filesystem::path& dir, const std::string& store);
    // A file left by another gateway: null when a live gateway holds it (or it went meanwhile).
    // Reads it through once to find where its whole records end. Throws when it is not a spool file.
    static std::unique_ptr<SpoolFile> adopt(const std::filesystem::path& path);
    ~SpoolFile();
    SpoolFile(const SpoolFile&) = delete;
    SpoolFile& operator=(const SpoolFile&) = delete;

    const std::filesystem::path& path() const { return path_; }
    const std::string& store() const { return store_; }
    std::uint64_t size() const { return end_; }  // bytes in use (header and whole records)
    std::size_t rows() const { return rows_; }   // rows not yet replayed
    SpoolTail tail() const { return tail_; }
    std::uint64_t tail_bytes() const { return tail_bytes_; }  // bytes after the last whole record
    std::uint64_t replayed_offset() const { return replayed_; }
    bool drained() const { return replayed_ == end_; }

    // Appends the rows and syncs them; false (the file as it was) when the file would pass
    // `max_bytes` or the disk failed, with the reason in `why`.
    bool append(std::span<const Row> rows, std::uint64_t max_bytes, std::string& why);
    // Up to `max` rows after those replayed, oldest first; returns the offset past them.
    // Throws when the disk fails or a record does not decode.
    std::uint64_t read(std::size_t max, std::vector<Row>& out) const { return read(max, out, replayed_); }
    std::uint64_t read(std::size_t max, std::vector<Row>& out, std::uint64_t from) const;  // from a record's start
    void replayed_to(std::uint64_t offset, std::size_t rows);  // rows up to `offset` are in the database
    // Every row replayed: the file goes back to its header. False (nothing changed) on failure.
    bool empty_out(std::string& why);
    void remove();  // unlinks the file (it stays locked until destroyed)
    void rename_corrupt();  // keeps a damaged file for the operator as PATH.corrupt

private:
    SpoolFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
    std::string read_at(std::uint64_t offset, std::size_t length) const;
    void scan();

    std::filesystem::path path_;
    int fd_ = -1;
    std::string store_;
    std::uint64_t header_end_ = 0;  // after the magic and the header record
    std::uint64_t end_ = 0;         // after the last whole record
    std::uint64_t replayed_ = 0;    // rows before this offset are in the database
    std::size_t rows_ = 0;
    SpoolTail tail_ = SpoolTail::clean;
    std::uint64_t tail_bytes_ = 0;
    bool broken_ = false;  // a failed append could not be cut off again: no more appends
};

// The spool directory, as one gateway sees it: the files it adopted (replayed first) and its own
// (made on the first append, bounded by `max_bytes`).
class Spool {
public:
    // Makes `dir` if missing and checks that it can be written; throws with the reason.
    Spool(std::filesystem::path dir, std::uint64_t max_bytes, std::string store);
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    // Takes the files of gateways gone that hold rows for this store: they are replayed first.
    void adopt();
    // Appends the rows to this gateway's file; false (nothing kept) when it is full or the disk
    // failed, with the reason in `why`.
    bool append(std::span<const Row> rows, std::string& why);
    bool empty() const { return rows_ == 0; }
    std::size_t rows() const { return rows_; }
    std::uint64_t bytes() const;  // of the rows not yet replayed
    // Up to `max` of the oldest rows not yet replayed (none when empty); then done() once they are
    // in the database. Throws when the disk fails; a file that cannot be read is set aside first.
    std::vector<Row> next(std::size_t max);
    void done();
    // Calls `visit` with every row not yet replayed, oldest first, leaving them to be replayed; stops
    // at a file that cannot be read (next() sets it aside).
    template <typename Visit>
    void each_waiting(Visit&& visit) const {
        std::vector<Row> rows;
        for (const auto& file : files_) {
            std::uint64_t at = file->replayed_offset();
            try {
                do {
                    rows.clear();
                    at = file->read(1024, rows, at);
                    for (const Row& row : rows) visit(row);
                } while (!rows.empty());
            } catch (const std::exception&) {
                return;
            }
        }
    }
    // Rows of a file set aside because it could not be read any more, since the last call.
    std::size_t take_lost();
    // At stop: this gateway's file is removed when nothing in it waits.
    void close();

    const std::filesystem::path& dir() const { return dir_; }

private:
    void finish_front();

    std::filesystem::path dir_;
    std::uint64_t max_bytes_;
    std::string store_;
    std::deque<std::unique_ptr<SpoolFile>> files_;  // oldest first; this gateway's own last
    SpoolFile* own_ = nullptr;
    std::size_t rows_ = 0;
    std::uint64_t pending_end_ = 0;  // what next() read: up to this offset of the front file
    std::size_t pending_rows_ = 0;
    std::size_t lost_ = 0;
};

}  // namespace switchyard::ledger
