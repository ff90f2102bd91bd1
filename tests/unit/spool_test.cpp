// The ledger's spool (src/ledger/spool.hpp): the record format, a file appended and read back in
// order, torn and damaged ends, the size bound, the lock that keeps a live gateway's file its own,
// and a directory's files adopted and replayed oldest first. Real files in a temp directory.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ledger/spool.hpp"

namespace switchyard::ledger {
namespace {

namespace fs = std::filesystem;

Row row(int i) {
    Row r;
    r.ts_ms = 1'700'000'000'000LL + i;
    r.request_id = "req-" + std::to_string(i);
    r.key = i % 2 ? "alice" : "";
    r.labels = R"({"team":"o'brien \"ü\""})";
    r.model = "gpt-4o-mini";
    r.served_model = "héllo 🚂 " + std::string("\0nul", 4);
    r.deployment = "cloud-" + std::to_string(i % 3);
    r.upstream = "cloud";
    r.tier = i % 4;
    r.local = i % 2 == 0;
    r.status = i % 5 ? 200 : 499;
    r.stream = i % 3 == 0;
    r.prompt_tokens = 1'000'000'000'000LL + i;
    r.cached_tokens = -i;
    r.completion_tokens = i * 13;
    r.usage_estimated = i % 3 == 1;
    r.cost_usd = 0.1 + 0.2 + i * 1e-9;
    r.ttft_ms = i % 4 ? 12.5 + i : -1;
    r.total_ms = 1.0 / 3.0 + i;
    r.overhead_ms = 0.25;
    r.retries = i % 3;
    r.fallback = i % 2 == 1;
    r.error = i % 7 ? "" : "upstream said \xff\xfe";
    r.uid = "uid-" + std::to_string(i);
    return r;
}

void expect_same(const Row& got, const Row& want) {
    EXPECT_EQ(encode_row(got), encode_row(want));  // every field, bit for bit
    EXPECT_EQ(got.request_id, want.request_id);
    EXPECT_EQ(got.uid, want.uid);
}

std::vector<Row> rows(int from, int to) {
    std::vector<Row> out;
    for (int i = from; i < to; ++i) out.push_back(row(i));
    return out;
}

class SpoolTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("switchyard-spool-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::vector<fs::path> files(const std::string& suffix = ".spool") const {
        std::vector<fs::path> out;
        for (const auto& entry : fs::directory_iterator(dir_)) {
            if (entry.path().string().ends_with(suffix)) out.push_back(entry.path());
        }
        std::sort(out.begin(), out.end());
        return out;
    }
    static void add_bytes(const fs::path& path, const std::string& bytes) {
        std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
    }
    static std::vector<Row> read_all(SpoolFile& file) {
        std::vector<Row> out;
        file.read(1'000'000, out);
        return out;
    }

    fs::path dir_;
    const std::string store_ = "postgres 127.0.0.1:5432/ledger";
};

TEST(SpoolFormat, ARowComesBackIdentical) {
    for (int i = 0; i < 30; ++i) {
        const auto decoded = decode_row(encode_row(row(i)));
        ASSERT_TRUE(decoded);
        expect_same(*decoded, row(i));
    }
    const std::string payload = encode_row(row(1));
    EXPECT_FALSE(decode_row(payload.substr(0, payload.size() - 1)));  // cut short
    EXPECT_FALSE(decode_row(payload + "x"));                          // trailing bytes
    EXPECT_FALSE(decode_row("\x02" + payload.substr(1)));             // another format
    EXPECT_FALSE(decode_row(""));
}

TEST(SpoolFormat, ARecordIsWholeCutShortOrDamaged) {
    std::string bytes;
    append_record(bytes, "hello");
    append_record(bytes, "world!");
    Record r = next_record(bytes);
    ASSERT_EQ(r.status, RecordStatus::ok);
    EXPECT_EQ(r.payload, "hello");
    EXPECT_EQ(r.size, kRecordHeaderSize + 5);
    r = next_record(std::string_view(bytes).substr(r.size));
    ASSERT_EQ(r.status, RecordStatus::ok);
    EXPECT_EQ(r.payload, "world!");

    EXPECT_EQ(next_record(bytes.substr(0, 3)).status, RecordStatus::incomplete);
    EXPECT_EQ(next_record(bytes.substr(0, 10)).status, RecordStatus::incomplete);
    EXPECT_EQ(next_record(bytes.substr(0, 10)).size, kRecordHeaderSize + 5);  // what it needs
    std::string flipped = bytes;
    flipped[kRecordHeaderSize + 1] ^= 0x20;
    EXPECT_EQ(next_record(flipped).status, RecordStatus::corrupt);
    EXPECT_EQ(next_record(std::string(16, '\0')).status, RecordStatus::corrupt);  // zeros are no record
    EXPECT_EQ(next_record(std::string("\xff\xff\xff\x7f") + std::string(12, 'x')).status, RecordStatus::corrupt);
}

TEST_F(SpoolTest, AppendedRowsAreReadBackInOrder) {
    auto file = SpoolFile::create(dir_, store_);
    EXPECT_EQ(file->store(), store_);
    EXPECT_TRUE(file->drained());
    std::string why;
    ASSERT_TRUE(file->append(rows(0, 10), 1u << 20, why)) << why;
    ASSERT_TRUE(file->append(rows(10, 25), 1u << 20, why)) << why;
    EXPECT_EQ(file->rows(), 25u);

    std::vector<Row> got;
    const std::uint64_t first = file->read(10, got);
    ASSERT_EQ(got.size(), 10u);
    file->replayed_to(first, got.size());
    EXPECT_FALSE(file->drained());
    EXPECT_EQ(file->rows(), 15u);
    const std::uint64_t rest = file->read(100, got);
    ASSERT_EQ(got.size(), 25u);
    for (int i = 0; i < 25; ++i) expect_same(got[static_cast<std::size_t>(i)], row(i));
    file->replayed_to(rest, 15);
    EXPECT_TRUE(file->drained());
    EXPECT_EQ(rest, file->size());

    // Emptied: back to the header, and appends start again after it.
    const std::uint64_t full = file->size();
    ASSERT_TRUE(file->empty_out(why)) << why;
    EXPECT_LT(file->size(), full);
    EXPECT_EQ(fs::file_size(file->path()), file->size());
    ASSERT_TRUE(file->append(rows(25, 27), 1u << 20, why));
    got.clear();
    file->read(100, got);
    ASSERT_EQ(got.size(), 2u);
    expect_same(got[0], row(25));
}

TEST_F(SpoolTest, ALiveGatewaysFileCannotBeAdopted) {
    auto file = SpoolFile::create(dir_, store_);
    ASSERT_EQ(files().size(), 1u);
    EXPECT_EQ(SpoolFile::adopt(file->path()), nullptr);  // locked (flock holds per open file, even in one process)
    const fs::path path = file->path();
    file.reset();  // the gateway is gone: its lock with it
    auto adopted = SpoolFile::adopt(path);
    ASSERT_NE(adopted, nullptr);
    EXPECT_EQ(adopted->store(), store_);
    EXPECT_EQ(adopted->rows(), 0u);
    EXPECT_EQ(SpoolFile::adopt(path), nullptr);  // now ours
}

TEST_F(SpoolTest, ATornLastRecordIsIgnoredAndTheRowsBeforeItKept) {
    const std::string one = [] {
        std::string out;
        append_record(out, encode_row(row(99)));
        return out;
    }();
    const std::vector<std::pair<std::string, std::string>> tails = {
        {"half a record", one.substr(0, one.size() / 2)},
        {"a header only", one.substr(0, 5)},
        {"a whole record garbled", one.substr(0, 20) + std::string(one.size() - 20, 'x')},
        {"zeros (the file grew, its data never came)", std::string(4096, '\0')},
    };
    for (const auto& [what, tail] : tails) {
        SCOPED_TRACE(what);
        fs::path path;
        {
            auto file = SpoolFile::create(dir_, store_);
            std::string why;
            ASSERT_TRUE(file->append(rows(0, 5), 1u << 20, why));
            path = file->path();
        }
        add_bytes(path, tail);
        auto adopted = SpoolFile::adopt(path);
        ASSERT_NE(adopted, nullptr);
        EXPECT_EQ(adopted->tail(), SpoolTail::torn);
        EXPECT_EQ(adopted->tail_bytes(), tail.size());
        EXPECT_EQ(adopted->rows(), 5u);
        const auto got = read_all(*adopted);
        ASSERT_EQ(got.size(), 5u);
        for (int i = 0; i < 5; ++i) expect_same(got[static_cast<std::size_t>(i)], row(i));
        adopted->remove();
    }
}

TEST_F(SpoolTest, DamageBeforeTheEndIsToldApartFromATornEnd) {
    fs::path path;
    {
        auto file = SpoolFile::create(dir_, store_);
        std::string why;
        ASSERT_TRUE(file->append(rows(0, 3), 1u << 20, why));
        path = file->path();
    }
    std::string tail(64, 'x');
    append_record(tail, encode_row(row(3)));  // a whole record after the damage: not a crash mid-append
    add_bytes(path, tail);
    auto adopted = SpoolFile::adopt(path);
    ASSERT_NE(adopted, nullptr);
    EXPECT_EQ(adopted->tail(), SpoolTail::corrupt);
    EXPECT_EQ(read_all(*adopted).size(), 3u);
    adopted->rename_corrupt();
    EXPECT_TRUE(adopted->path().string().ends_with(".spool.corrupt"));
    EXPECT_TRUE(fs::exists(adopted->path()));
}

TEST_F(SpoolTest, NotASpoolFileIsRefused) {
    const fs::path path = dir_ / "ledger-0000000000000001-1.spool";
    add_bytes(path, "hello, world");
    EXPECT_THROW(SpoolFile::adopt(path), std::runtime_error);
}

TEST_F(SpoolTest, AFileNeverPassesItsBound) {
    auto file = SpoolFile::create(dir_, store_);
    std::string why;
    const std::uint64_t header = file->size();
    std::string one_row;
    append_record(one_row, encode_row(row(0)));
    const std::uint64_t bound = header + 3 * one_row.size() + 10;  // room for three rows like row(0)
    ASSERT_TRUE(file->append(rows(0, 2), bound, why)) << why;
    EXPECT_FALSE(file->append(rows(2, 4), bound, why));  // two more would pass it: neither is kept
    EXPECT_NE(why.find("spool_max_bytes"), std::string::npos) << why;
    EXPECT_EQ(file->rows(), 2u);
    EXPECT_EQ(fs::file_size(file->path()), file->size());
    EXPECT_LE(file->size(), bound);
    ASSERT_TRUE(file->append(std::vector<Row>{row(0)}, bound, why)) << why;  // one still fits
    EXPECT_EQ(read_all(*file).size(), 3u);
}

TEST_F(SpoolTest, ADirectoryReplaysWhatGatewaysGoneLeftThenItsOwnInOrder) {
    {
        // Two gateways gone, one after the other, and one of another ledger.
        auto older = SpoolFile::create(dir_, store_);
        std::string why;
        ASSERT_TRUE(older->append(rows(0, 4), 1u << 20, why));
        ::usleep(2000);  // the name holds the time in milliseconds: a later name
        auto newer = SpoolFile::create(dir_, store_);
        ASSERT_TRUE(newer->append(rows(4, 7), 1u << 20, why));
        auto other = SpoolFile::create(dir_, "sqlite /elsewhere.db");
        ASSERT_TRUE(other->append(rows(100, 102), 1u << 20, why));
    }
    ASSERT_EQ(files().size(), 3u);
    {
        Spool spool(dir_, 1u << 20, store_);
        spool.adopt();
        EXPECT_EQ(spool.rows(), 7u);
        std::string why;
        ASSERT_TRUE(spool.append(rows(7, 10), why)) << why;  // this gateway's own, made now
        EXPECT_EQ(spool.rows(), 10u);
        EXPECT_EQ(files().size(), 4u);

        std::vector<Row> got;
        while (!spool.empty()) {
            const auto batch = spool.next(2);
            ASSERT_FALSE(batch.empty());
            got.insert(got.end(), batch.begin(), batch.end());
            spool.done();
        }
        ASSERT_EQ(got.size(), 10u);
        for (int i = 0; i < 10; ++i) expect_same(got[static_cast<std::size_t>(i)], row(i));
        EXPECT_EQ(spool.bytes(), 0u);
        EXPECT_TRUE(spool.next(2).empty());
        // The adopted files are gone; the other ledger's stays; this gateway's stays while it runs.
        EXPECT_EQ(files().size(), 2u);
    }
    ASSERT_EQ(files().size(), 1u);  // closed with nothing in it: removed
    auto other = SpoolFile::adopt(files()[0]);
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(other->store(), "sqlite /elsewhere.db");
}

TEST_F(SpoolTest, RowsNotReplayedAreReadAgainAndStayAfterAStop) {
    {
        Spool spool(dir_, 1u << 20, store_);
        std::string why;
        ASSERT_TRUE(spool.append(rows(0, 6), why)) << why;
        auto batch = spool.next(4);
        ASSERT_EQ(batch.size(), 4u);
        // The database refused them: no done(); the next call reads the same rows again.
        batch = spool.next(4);
        ASSERT_EQ(batch.size(), 4u);
        expect_same(batch[0], row(0));
        spool.done();
        EXPECT_EQ(spool.rows(), 2u);
    }
    // Stopped with two rows in it: the file stays, and the next start replays it, from its start
    // (the database keeps each uid once, so the rows replayed before come to nothing).
    Spool again(dir_, 1u << 20, store_);
    again.adopt();
    EXPECT_EQ(again.rows(), 6u);
    const auto batch = again.next(10);
    ASSERT_EQ(batch.size(), 6u);
    expect_same(batch[0], row(0));
    expect_same(batch[5], row(5));
}

TEST_F(SpoolTest, ASpoolDirectoryThatCannotBeMadeIsRefused) {
    add_bytes(dir_ / "a-file", "x");
    EXPECT_THROW(Spool(dir_ / "a-file", 1u << 20, store_), std::runtime_error);
    EXPECT_THROW(Spool(dir_ / "a-file" / "below", 1u << 20, store_), std::runtime_error);
    Spool made(dir_ / "new" / "deeper", 1u << 20, store_);
    EXPECT_TRUE(fs::is_directory(dir_ / "new" / "deeper"));
}

}  // namespace
}  // namespace switchyard::ledger
