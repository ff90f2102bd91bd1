#include "ledger/spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "core/clock.hpp"

namespace switchyard::ledger {

namespace {

constexpr std::uint8_t kRowFormat = 1;        // the first byte of a row's payload
constexpr std::size_t kMaxText = 1u << 20;    // longer text is cut: 9 fields stay under kMaxRecordPayload
constexpr std::size_t kReadChunk = 1u << 20;  // bytes read at once when replaying or scanning

std::uint32_t checksum(std::string_view bytes) {
    boost::crc_32_type crc;
    crc.process_bytes(bytes.data(), bytes.size());
    return crc.checksum();
}

void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_i64(std::string& out, std::int64_t v) { put_u64(out, static_cast<std::uint64_t>(v)); }
void put_f64(std::string& out, double v) { put_u64(out, std::bit_cast<std::uint64_t>(v)); }
void put_bool(std::string& out, bool v) { out += v ? '\1' : '\0'; }
void put_text(std::string& out, const std::string& text) {
    const std::size_t n = std::min(text.size(), kMaxText);
    put_u32(out, static_cast<std::uint32_t>(n));
    out.append(text, 0, n);
}

std::uint64_t get_le(std::string_view in, std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
    return v;
}
std::uint32_t get_u32(std::string_view in) { return static_cast<std::uint32_t>(get_le(in, 4)); }

// Reads a payload front to back; any read past its end makes it bad.
class Fields {
public:
    explicit Fields(std::string_view in) : in_(in) {}
    bool ok() const { return ok_; }
    bool done() const { return ok_ && in_.empty(); }
    std::uint64_t u64() {
        return take(8) ? get_le(last_, 8) : 0;
    }
    std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
    int i32() { return static_cast<int>(i64()); }
    double f64() { return std::bit_cast<double>(u64()); }
    bool boolean() { return take(1) && last_[0] != '\0'; }
    std::uint8_t byte() { return take(1) ? static_cast<std::uint8_t>(last_[0]) : 0; }
    std::string text() {
        if (!take(4)) return {};
        const std::uint32_t n = get_u32(last_);
        return take(n) ? std::string(last_) : std::string();
    }

private:
    bool take(std::size_t n) {
        if (!ok_ || in_.size() < n) {
            ok_ = false;
            return false;
        }
        last_ = in_.substr(0, n);
        in_.remove_prefix(n);
        return true;
    }
    std::string_view in_;
    std::string_view last_;
    bool ok_ = true;
};

std::string errno_text(int error) { return std::generic_category().message(error); }

bool write_all(int fd, std::string_view bytes, std::uint64_t offset) {
    while (!bytes.empty()) {
        const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
        offset += static_cast<std::uint64_t>(n);
    }
    return true;
}

void sync_dir(const std::filesystem::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);  // the file's name survives a power loss too; a failure here loses no row yet
    ::close(fd);
}

bool is_spool_name(const std::string& name) { return name.starts_with("ledger-") && name.ends_with(".spool"); }

}  // namespace

void append_record(std::string& out, std::string_view payload) {
    put_u32(out, static_cast<std::uint32_t>(payload.size()));
    put_u32(out, checksum(payload));
    out.append(payload);
}

std::string encode_row(const Row& row) {
    std::string out;
    out.reserve(256);
    out += static_cast<char>(kRowFormat);
    put_i64(out, row.ts_ms);
    put_text(out, row.request_id);
    put_text(out, row.key);
    put_text(out, row.labels);
    put_text(out, row.model);
    put_text(out, row.served_model);
    put_text(out, row.deployment);
    put_text(out, row.upstream);
    put_i64(out, row.tier);
    put_bool(out, row.local);
    put_i64(out, row.status);
    put_bool(out, row.stream);
    put_i64(out, row.prompt_tokens);
    put_i64(out, row.cached_tokens);
    put_i64(out, row.completion_tokens);
    put_bool(out, row.usage_estimated);
    put_f64(out, row.cost_usd);
    put_f64(out, row.ttft_ms);
    put_f64(out, row.total_ms);
    put_f64(out, row.overhead_ms);
    put_i64(out, row.retries);
    put_bool(out, row.fallback);
    put_text(out, row.error);
    put_text(out, row.uid);
    return out;
}

std::optional<Row> decode_row(std::string_view payload) {
    Fields in(payload);
    if (in.byte() != kRowFormat) return std::nullopt;
    Row row;
    row.ts_ms = in.i64();
    row.request_id = in.text();
    row.key = in.text();
    row.labels = in.text();
    row.model = in.text();
    row.served_model = in.text();
    row.deployment = in.text();
    row.upstream = in.text();
    row.tier = in.i32();
    row.local = in.boolean();
    row.status = in.i32();
    row.stream = in.boolean();
    row.prompt_tokens = in.i64();
    row.cached_tokens = in.i64();
    row.completion_tokens = in.i64();
    row.usage_estimated = in.boolean();
    row.cost_usd = in.f64();
    row.ttft_ms = in.f64();
    row.total_ms = in.f64();
    row.overhead_ms = in.f64();
    row.retries = in.i32();
    row.fallback = in.boolean();
    row.error = in.text();
    row.uid = in.text();
    if (!in.done()) return std::nullopt;
    return row;
}

Record next_record(std::string_view bytes) {
    Record r;
    if (bytes.size() < kRecordHeaderSize) {
        r.size = kRecordHeaderSize;
        return r;
    }
    const std::uint32_t length = get_u32(bytes);
    // No record is empty: a run of zero bytes (a crash after the file grew, before its data
    // reached the disk) reads as damage, not as empty records.
    if (length == 0 || length > kMaxRecordPayload) {
        r.status = RecordStatus::corrupt;
        return r;
    }
    r.size = kRecordHeaderSize + length;
    if (bytes.size() < r.size) return r;
    r.payload = bytes.substr(kRecordHeaderSize, length);
    r.status = checksum(r.payload) == get_u32(bytes.substr(4)) ? RecordStatus::ok : RecordStatus::corrupt;
    return r;
}

// --- SpoolFile ---

std::unique_ptr<SpoolFile> SpoolFile::create(const std::filesystem::path& dir, const std::string& store) {
    const auto ms = unix_ms();
    static std::atomic<unsigned> made{0};  // a name is never made twice, even within one millisecond
    const std::string name = fmt::format("ledger-{:016d}-{}-{}.spool", ms, ::getpid(), made.fetch_add(1));
    // Made under another name and renamed once locked, so that no other gateway adopts it first.
    const std::filesystem::path fresh = dir / (name + ".new");
    const int fd = ::open(fresh.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + fresh.string() + ": " + errno_text(errno));
    std::unique_ptr<SpoolFile> file(new SpoolFile(dir / name, fd));
    std::string header(kSpoolMagic);
    append_record(header, store);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || !write_all(fd, header, 0) || ::fdatasync(fd) != 0 ||
        ::rename(fresh.c_str(), file->path_.c_str()) != 0) {
        const std::string why = errno_text(errno);
        ::unlink(fresh.c_str());
        throw std::runtime_error("cannot create " + file->path_.string() + ": " + why);
    }
    sync_dir(dir);
    file->store_ = store;
    file->header_end_ = file->end_ = file->replayed_ = header.size();
    return file;
}

std::unique_ptr<SpoolFile> SpoolFile::adopt(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return nullptr;
        throw std::runtime_error("cannot open: " + errno_text(errno));
    }
    std::unique_ptr<SpoolFile> file(new SpoolFile(path, fd));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return nullptr;  // a live gateway's
    // Still there under that name: its gateway did not remove it between our open and our lock.
    struct stat held {}, named {};
    if (::fstat(fd, &held) != 0 || ::stat(path.c_str(), &named) != 0 || held.st_ino != named.st_ino ||
        held.st_dev != named.st_dev) {
        return nullptr;
    }
    file->scan();
    return file;
}

SpoolFile::~SpoolFile() {
    if (fd_ >= 0) ::close(fd_);
}

std::string SpoolFile::read_at(std::uint64_t offset, std::size_t length) const {
    std::string out(length, '\0');
    std::size_t got = 0;
    while (got < length) {
        const ssize_t n = ::pread(fd_, out.data() + got, length - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error("cannot read " + path_.string() + ": " + errno_text(errno));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

// Finds the header and every whole record; what follows the last one is the tail.
void SpoolFile::scan() {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw std::runtime_error("cannot stat: " + errno_text(errno));
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (read_at(0, kSpoolMagic.size()) != kSpoolMagic) throw std::runtime_error("not a spool file of this version");
    std::uint64_t at = kSpoolMagic.size();
    std::string window;
    std::uint64_t window_at = at;
    Record bad;
    while (at < file_size) {
        const Record r = next_record(std::string_view(window).substr(at - window_at));
        if (r.status == RecordStatus::incomplete && window_at + window.size() < file_size) {
            window = read_at(at, std::max(kReadChunk, r.size));
            window_at = at;
            if (window.size() < std::min<std::uint64_t>(r.size, file_size - at)) {
                throw std::runtime_error("shorter than it was");
            }
            continue;
        }
        if (r.status != RecordStatus::ok) {
            bad = r;
            break;
        }
        if (header_end_ == 0) {
            store_ = std::string(r.payload);
            header_end_ = at + r.size;
        } else {
            ++rows_;
        }
        at += r.size;
    }
    if (header_end_ == 0) throw std::runtime_error("no header: not a spool file");
    end_ = at;
    replayed_ = header_end_;
    tail_bytes_ = file_size - at;
    if (tail_bytes_ == 0) return;
    // Torn: the bad record is the last one (it reaches the end of the file), or only zero bytes follow.
    bool torn = bad.status == RecordStatus::incomplete || (bad.size > 0 && at + bad.size >= file_size);
    for (std::uint64_t from = at; !torn && from < file_size; from += kReadChunk) {
        const std::string chunk = read_at(from, kReadChunk);
        if (chunk.find_first_not_of('\0') != std::string::npos) break;
        torn = from + chunk.size() >= file_size;
    }
    tail_ = torn ? SpoolTail::torn : SpoolTail::corrupt;
}

bool SpoolFile::append(std::span<const Row> rows, std::uint64_t max_bytes, std::string& why) {
    if (broken_) {
        why = "an earlier failed write could not be undone";
        return false;
    }
    std::string bytes;
    for (const Row& row : rows) append_record(bytes, encode_row(row));
    if (end_ + bytes.size() > max_bytes) {
        why = fmt::format("the spool file would pass spool_max_bytes ({} bytes, {} in use)", max_bytes, end_);
        return false;
    }
    if (!write_all(fd_, bytes, end_) || ::fdatasync(fd_) != 0) {
        why = errno_text(errno);
        // What may have reached the file goes, so that the next append follows the last whole record.
        if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0) broken_ = true;
        return false;
    }
    end_ += bytes.size();
    rows_ += rows.size();
    return true;
}

std::uint64_t SpoolFile::read(std::size_t max, std::vector<Row>& out, std::uint64_t from) const {
    std::uint64_t at = from;
    std::string window;
    std::uint64_t window_at = at;
    for (std::size_t taken = 0; taken < max && at < end_;) {
        const Record r = next_record(std::string_view(window).substr(at - window_at));
        if (r.status == RecordStatus::incomplete) {
            const std::uint64_t want = std::min<std::uint64_t>(std::max(kReadChunk, r.size), end_ - at);
            window = read_at(at, static_cast<std::size_t>(want));
            window_at = at;
            if (window.size() < r.size) throw std::runtime_error(path_.string() + " is shorter than it was");
            continue;
        }
        auto row = r.status == RecordStatus::ok ? decode_row(r.payload) : std::nullopt;
        if (!row) throw std::runtime_error(fmt::format("{}: the record at byte {} is damaged", path_.string(), at));
        out.push_back(std::move(*row));
        ++taken;
        at += r.size;
    }
    return at;
}

void SpoolFile::replayed_to(std::uint64_t offset, std::size_t rows) {
    replayed_ = std::min(offset, end_);
    rows_ -= std::min(rows, rows_);
}

bool SpoolFile::empty_out(std::string& why) {
    if (::ftruncate(fd_, static_cast<off_t>(header_end_)) != 0 || ::fdatasync(fd_) != 0) {
        why = errno_text(errno);
        return false;
    }
    end_ = replayed_ = header_end_;
    rows_ = 0;
    return true;
}

void SpoolFile::remove() { ::unlink(path_.c_str()); }

void SpoolFile::rename_corrupt() {
    const std::string kept = path_.string() + ".corrupt";
    if (::rename(path_.c_str(), kept.c_str()) == 0) path_ = kept;
}

// --- Spool ---

Spool::Spool(std::filesystem::path dir, std::uint64_t max_bytes, std::string store)
    : dir_(std::move(dir)), max_bytes_(max_bytes), store_(std::move(store)) {
    std::error_code error;
    std::filesystem::create_directories(dir_, error);
    const auto refuse = [&](const std::string& why) {
        return std::runtime_error("the ledger's spool directory " + dir_.string() + " cannot be used (" + why +
                                  "); make it writable or set ledger.spool_dir");
    };
    if (error || !std::filesystem::is_directory(dir_, error)) {
        throw refuse(error ? error.message() : std::string("not a directory"));
    }
    if (::access(dir_.c_str(), W_OK | X_OK) != 0) throw refuse(errno_text(errno));
}

Spool::~Spool() { close(); }

void Spool::adopt() {
    std::vector<std::filesystem::path> found;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
        if (is_spool_name(entry.path().filename().string())) found.push_back(entry.path());
    }
    if (error) spdlog::error("ledger: cannot list the spool directory {}: {}", dir_.string(), error.message());
    std::sort(found.begin(), found.end());  // by the time in the name: oldest first
    for (const auto& path : found) {
        std::unique_ptr<SpoolFile> file;
        try {
            file = SpoolFile::adopt(path);
        } catch (const std::exception& e) {
            spdlog::error("ledger: spool file {} cannot be read ({}); it is left alone", path.string(), e.what());
            continue;
        }
        if (!file) continue;  // a live gateway's
        if (file->store() != store_) {
            spdlog::warn("ledger: spool file {} holds rows for {}, not {}; it is left alone", path.string(),
                         file->store(), store_);
            continue;
        }
        if (file->tail() == SpoolTail::corrupt) {
            spdlog::error("ledger: spool file {} is damaged: {} bytes after its {} readable rows cannot be read "
                          "(the file is kept as {}.corrupt once those rows are replayed)",
                          path.string(), file->tail_bytes(), file->rows(), path.string());
        } else if (file->tail() == SpoolTail::torn) {
            spdlog::info("ledger: spool file {} ends in a record cut short by a crash ({} bytes, ignored)",
                         path.string(), file->tail_bytes());
        }
        if (file->rows() > 0) spdlog::info("ledger: replaying {} rows left in {}", file->rows(), path.string());
        rows_ += file->rows();
        files_.insert(files_.end() - (own_ != nullptr ? 1 : 0), std::move(file));
    }
}

bool Spool::append(std::span<const Row> rows, std::string& why) {
    if (own_ == nullptr) {
        try {
            files_.push_back(SpoolFile::create(dir_, store_));
        } catch (const std::exception& e) {
            why = e.what();
            return false;
        }
        own_ = files_.back().get();
        spdlog::info("ledger: spooling rows to {}", own_->path().string());
    }
    if (!own_->append(rows, max_bytes_, why)) return false;
    rows_ += rows.size();
    return true;
}

std::uint64_t Spool::bytes() const {
    std::uint64_t total = 0;
    for (const auto& file : files_) total += file->size() - file->replayed_offset();
    return total;
}

std::vector<Row> Spool::next(std::size_t max) {
    std::vector<Row> out;
    pending_rows_ = 0;
    while (!files_.empty()) {
        SpoolFile& front = *files_.front();
        if (front.drained()) {
            if (&front == own_) break;
            finish_front();
            continue;
        }
        try {
            pending_end_ = front.read(max, out);
            pending_rows_ = out.size();
        } catch (const std::exception& e) {
            // Set aside for the operator, so that one bad file does not stop the rows behind it.
            spdlog::error("ledger: {}; its {} rows not yet replayed are lost (the file is kept as .corrupt)", e.what(),
                          front.rows());
            lost_ += front.rows();
            rows_ -= std::min(rows_, front.rows());
            front.rename_corrupt();
            if (&front == own_) own_ = nullptr;
            files_.pop_front();
            out.clear();
            continue;
        }
        break;
    }
    if (out.empty()) rows_ = 0;  // nothing left to read, whatever the count said: the writer must not spin
    return out;
}

void Spool::done() {
    if (files_.empty() || pending_rows_ == 0) return;
    SpoolFile& front = *files_.front();
    front.replayed_to(pending_end_, pending_rows_);
    rows_ -= std::min(rows_, pending_rows_);
    pending_rows_ = 0;
    if (front.drained()) finish_front();
}

// The front file is replayed: this gateway's goes back to its header, an adopted one goes.
void Spool::finish_front() {
    SpoolFile& front = *files_.front();
    if (&front == own_) {
        std::string why;
        if (!front.empty_out(why)) {
            spdlog::warn("ledger: cannot empty the spool file {}: {}", front.path().string(), why);
        }
        return;
    }
    if (front.tail() == SpoolTail::corrupt) {
        front.rename_corrupt();
    } else {
        front.remove();
    }
    files_.pop_front();
}

std::size_t Spool::take_lost() { return std::exchange(lost_, 0); }

void Spool::close() {
    if (own_ != nullptr && own_->drained()) own_->remove();
    own_ = nullptr;
    files_.clear();
}

}  // namespace switchyard::ledger
