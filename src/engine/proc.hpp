// An engine's process tree, read from /proc: its main process and every descendant (llama-server
// in router mode starts one child per loaded model), their resident memory summed, and their GPU
// memory from nvidia-smi's per-pid readings. The /proc root is a parameter so that tests can use a
// fake one. Runs on the supervisor thread only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::engine {

struct ProcessInfo {
    pid_t pid = 0;
    pid_t ppid = 0;
    pid_t pgid = 0;  // its process group
};

// pid, parent and process group of a /proc/PID/stat text ("42 (name) S 1 42 ..."; the name may
// hold spaces and parentheses).
std::optional<ProcessInfo> parse_stat(std::string_view stat_text);

// `root` and its descendants among `all`, root first (parents before their children); empty when
// `root` is not among them.
std::vector<ProcessInfo> process_tree(const std::vector<ProcessInfo>& all, pid_t root);

// Every process under `proc_root` (normally "/proc").
std::vector<ProcessInfo> list_processes(const std::string& proc_root);

struct TreeMemory {
    std::vector<ProcessInfo> tree;  // root first
    std::size_t rss = 0;            // bytes, the whole tree
    std::size_t main_rss = 0;       // bytes, the root alone
};
// The tree of `root` among `all` (list_processes of the same root) with its VmRSS summed (a
// process gone meanwhile counts 0).
TreeMemory read_tree_memory(const std::string& proc_root, const std::vector<ProcessInfo>& all, pid_t root);
inline TreeMemory read_tree_memory(const std::string& proc_root, pid_t root) {
    return read_tree_memory(proc_root, list_processes(proc_root), root);
}

// nvidia-smi's per-pid GPU memory summed over the tree's pids.
std::size_t tree_gpu_memory(const std::map<pid_t, std::size_t>& per_pid, const std::vector<ProcessInfo>& tree);

}  // namespace switchyard::engine
