#include "engine/proc.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/policy.hpp"

namespace switchyard::engine {

namespace {

std::string read_small_file(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool number(std::string_view text, pid_t& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

std::optional<ProcessInfo> parse_stat(std::string_view text) {
    // "pid (comm) state ppid pgrp ...": comm is whatever the process named itself, so the fields
    // after it are found from the last ')'.
    const auto open = text.find(" (");
    const auto close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
    ProcessInfo info;
    if (!number(text.substr(0, open), info.pid)) return std::nullopt;
    std::string_view rest = text.substr(close + 1);
    std::string_view fields[3];  // state, ppid, pgrp
    for (auto& field : fields) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        const auto space = rest.find(' ');
        field = rest.substr(0, space);
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space);
    }
    if (fields[0].empty() || !number(fields[1], info.ppid) || !number(fields[2], info.pgid)) return std::nullopt;
    return info;
}

std::vector<ProcessInfo> process_tree(const std::vector<ProcessInfo>& all, pid_t root) {
    std::vector<ProcessInfo> tree;
    for (const auto& p : all) {
        if (p.pid == root) tree.push_back(p);
    }
    // Breadth first: each found process's children join the end (a pid appears once in /proc).
    for (std::size_t i = 0; i < tree.size(); ++i) {
        for (const auto& p : all) {
            if (p.ppid == tree[i].pid && p.pid != root) tree.push_back(p);
        }
    }
    return tree;
}

std::vector<ProcessInfo> list_processes(const std::string& proc_root) {
    std::vector<ProcessInfo> out;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(proc_root, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        pid_t pid = 0;
        if (!number(name, pid)) continue;
        if (auto info = parse_stat(read_small_file(it->path().string() + "/stat"))) out.push_back(*info);
    }
    return out;
}

TreeMemory read_tree_memory(const std::string& proc_root, const std::vector<ProcessInfo>& all, pid_t root) {
    TreeMemory memory;
    memory.tree = process_tree(all, root);
    for (const auto& p : memory.tree) {
        const std::size_t rss =
            parse_vm_rss(read_small_file(proc_root + "/" + std::to_string(p.pid) + "/status")).value_or(0);
        memory.rss += rss;
        if (p.pid == root) memory.main_rss = rss;
    }
    return memory;
}

std::size_t tree_gpu_memory(const std::map<pid_t, std::size_t>& per_pid, const std::vector<ProcessInfo>& tree) {
    std::size_t total = 0;
    for (const auto& p : tree) {
        if (const auto found = per_pid.find(p.pid); found != per_pid.end()) total += found->second;
    }
    return total;
}

}  // namespace switchyard::engine
