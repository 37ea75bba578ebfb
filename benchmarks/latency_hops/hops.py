#!/usr/bin/env python3
"""Hop-by-hop medians of the latency benchmark's round trips (see hop_trace.hpp).

  GASCHED_HOPS=/tmp/hops gasched-bench --only latency --repeat 1
  benchmarks/latency_hops/hops.py /tmp/hops
"""
import glob, statistics, struct, sys
from collections import Counter

names = {1: 'client send', 2: 'sched got await', 3: 'sched sends run', 4: 'node got run',
         5: 'submit done', 6: 'pool thread took job', 7: 'fn done', 8: 'outcome sent',
         9: 'sched got done', 10: 'sched delivered', 11: 'client got result',
         12: 'before send_as', 13: 'completed', 14: 'result made', 15: 'post entry',
         21: 'client send hello', 22: 'node got hello', 23: 'client got reply',
         24: 'client request returned'}

events = []
for f in glob.glob(sys.argv[1] + '/hops.*'):
    data = open(f, 'rb').read()
    for i in range(0, len(data), 16):
        t, s = struct.unpack_from('<qq', data, i)
        if t == 0:
            break
        events.append((t, s))
events.sort()

def chains(start, end):
    out, cur = [], None
    for t, s in events:
        if s == start:
            cur = [(t, s)]
        elif cur is not None:
            cur.append((t, s))
            if s == end:
                out.append(cur)
                cur = None
    return out[100:] if len(out) > 400 else out  # the warm-up

def show(v):
    v = sorted(v)
    return f'p50 {statistics.median(v):7.1f} us  p90 {v[int(len(v) * .9)]:7.1f}'

for start, end in ((1, 11), (21, 23)):
    cs = chains(start, end)
    if not cs:
        continue
    # Stages may interleave differently across threads: the commonest order.
    order = Counter(tuple(s for _, s in c) for c in cs).most_common(1)[0][0]
    same = [c for c in cs if tuple(s for _, s in c) == order]
    print(f'{len(same)} of {len(cs)} round trips {names[start]} -> {names[end]}')
    for i in range(1, len(order)):
        d = [(c[i][0] - c[i - 1][0]) / 1000 for c in same]
        print(f'  {names[order[i - 1]]:>23} -> {names[order[i]]:<23} {show(d)}')
    print(f'  {"total":>50} {show([(c[-1][0] - c[0][0]) / 1000 for c in same])}')

# Spans whatever the order between them.
for a, b in ((4, 6), (4, 8), (3, 9)):
    v = []
    for c in chains(1, 11):
        t = {s: x for x, s in c}
        if a in t and b in t:
            v.append((t[b] - t[a]) / 1000)
    if v:
        print(f'  span {names[a]} -> {names[b]}: {show(v)}')
