#!/usr/bin/env python3
"""soak_plot.py CSV SVG: draws the soak's samples (seconds, rss_kib, requests) as an SVG picture:
the gateway's resident memory (MiB, left axis) and its request rate (per second, right axis) over
time; prints the warm and last-quarter peaks. Standard library only."""
import csv
import sys


def main(src, dst):
    rows = [(float(r["seconds"]), int(r["rss_kib"]) / 1024, int(r["requests"])) for r in csv.DictReader(open(src))]
    if len(rows) < 4:
        sys.exit("soak_plot: too few samples")
    rates = [0.0] + [(b[2] - a[2]) / max(b[0] - a[0], 1e-9) for a, b in zip(rows, rows[1:])]
    w, h, left, right, top, bottom = 900, 360, 60, 60, 30, 40
    t_max = rows[-1][0]
    rss_max = max(r[1] for r in rows) * 1.15
    rate_max = max(rates) * 1.15 or 1
    x = lambda t: left + (w - left - right) * t / t_max
    y_rss = lambda v: top + (h - top - bottom) * (1 - v / rss_max)
    y_rate = lambda v: top + (h - top - bottom) * (1 - v / rate_max)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="18" text-anchor="middle">switchyard soak: resident memory and request rate</text>']
    for i in range(6):  # grid and axes' numbers
        frac = i / 5
        yy = top + (h - top - bottom) * (1 - frac)
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#1f5fbf">{rss_max * frac:.0f}</text>')
        out.append(f'<text x="{w - right + 6}" y="{yy + 4:.1f}" fill="#b5472a">{rate_max * frac:.0f}</text>')
        tt = t_max * frac
        out.append(f'<text x="{x(tt):.1f}" y="{h - bottom + 16}" text-anchor="middle">{tt / 60:.1f} min</text>')
    rss_points = " ".join(f"{x(t):.1f},{y_rss(v):.1f}" for t, v, _ in rows)
    rate_points = " ".join(f"{x(r[0]):.1f},{y_rate(v):.1f}" for r, v in zip(rows, rates))
    out.append(f'<polyline fill="none" stroke="#b5472a" stroke-width="1" opacity="0.6" points="{rate_points}"/>')
    out.append(f'<polyline fill="none" stroke="#1f5fbf" stroke-width="2" points="{rss_points}"/>')
    out.append(f'<text x="{left}" y="{h - 6}" fill="#1f5fbf">RSS, MiB (left)</text>')
    out.append(f'<text x="{w - right}" y="{h - 6}" text-anchor="end" fill="#b5472a">requests per second (right)</text>')
    out.append("</svg>")
    open(dst, "w").write("\n".join(out) + "\n")
    q = len(rows) // 4
    warm = max(r[1] for r in rows[q:2 * q])
    last = max(r[1] for r in rows[3 * q:])
    print(f"samples {len(rows)}, {rows[-1][2]} requests in {t_max:.0f} s ({rows[-1][2] / t_max:.0f}/s); "
          f"RSS peak warm {warm:.1f} MiB, last quarter {last:.1f} MiB ({(last - warm) / warm * 100:+.1f}%)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
