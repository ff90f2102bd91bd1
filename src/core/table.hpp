// A plain-text table for terminals: columns as wide as their widest cell, the first
// `left_columns` left-aligned (with more than one, the last too), the others right-aligned, a rule
// under the header. Used by `switchyard bench` and `switchyard cost`.
#pragma once

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace switchyard {

// Rows as left-aligned columns two spaces apart, no rule, trailing spaces trimmed (`switchyard ps`,
// `switchyard list`). `rows` must not be empty; the first row sets the number of columns.
inline std::string columns(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths(rows.front().size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

class TextTable {
public:
    explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    const std::vector<std::vector<std::string>>& rows() const { return rows_; }

    void print(std::ostream& out, std::size_t left_columns = 1) const {
        std::vector<std::size_t> width(rows_[0].size(), 0);
        for (const auto& row : rows_) {
            for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
        }
        for (std::size_t r = 0; r < rows_.size(); ++r) {
            std::string line;
            for (std::size_t i = 0; i < rows_[r].size() && i < width.size(); ++i) {
                if (i > 0) line += "  ";
                const std::string& cell = rows_[r][i];
                const std::string pad(width[i] - cell.size(), ' ');
                line += (i < left_columns || (i + 1 == width.size() && left_columns > 1)) ? cell + pad : pad + cell;
            }
            while (!line.empty() && line.back() == ' ') line.pop_back();
            out << line << "\n";
            if (r == 0) {
                std::size_t total = 0;
                for (auto w : width) total += w + 2;
                out << std::string(total - 2, '-') << "\n";
            }
        }
    }

private:
    std::vector<std::vector<std::string>> rows_;
};

}  // namespace switchyard
