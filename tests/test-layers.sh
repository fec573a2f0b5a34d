#!/bin/bash
# test-layers.sh - nhictl's layers (HACKING.md) read from the built objects:
# every call between nhictl's files (an undefined symbol of one object that
# another defines) goes down, cmd/ -> store/ -> registry/ | ldap/ -> util/,
# never up and never between registry/ and ldap/, and no files call each
# other in a cycle (within a folder too).  The link of tests/layers.mk
# catches an upward call out of registry/ or ldap/; this catches the rest.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
command -v nm >/dev/null 2>&1 || { echo "skip: no nm"; exit 77; }
objs=$(find "$top_builddir/nhictl" -name 'nhictl-*.o' | sort)
[ -n "$objs" ] || { echo "skip: nhictl's objects are not built here"; exit 77; }

report=$(python3 - "$top_srcdir/nhictl" $objs <<'PY'
import collections, os, subprocess, sys
src, objs = sys.argv[1], sys.argv[2:]
rank = {'top': 0, 'cmd': 1, 'store': 2, 'registry': 3, 'ldap': 3, 'util': 4}
layer = {'nhictl': 'top'}
for d in ('cmd', 'store', 'registry', 'ldap', 'util'):
    for f in os.listdir(os.path.join(src, d)):
        if f.endswith('.c'):
            layer[f[:-2]] = d
defs, und = {}, collections.defaultdict(set)
for o in objs:
    n = os.path.basename(o)[len('nhictl-'):-2]
    if n not in layer:
        continue
    for l in subprocess.run(['nm', o], capture_output=True, text=True).stdout.splitlines():
        p = l.split()
        if len(p) == 3 and p[1] in 'TDBR':
            defs[p[2]] = n
        elif len(p) == 2 and p[0] == 'U':
            und[n].add(p[1])
calls = collections.defaultdict(set)
files = set()
for n, syms in und.items():
    files.add(n)
    for s in syms:
        m = defs.get(s)
        if m is None or m == n:
            continue
        calls[n].add(m)
        a, b = layer[n], layer[m]
        if rank[b] < rank[a] or (rank[a] == rank[b] and a != b):
            print('up: %s/%s.c calls %s/%s.c (%s)' % (a, n, b, m, s))
# cycles: Tarjan's strongly connected components
index, low, stack, on, out = {}, {}, [], set(), []
def visit(v):
    index[v] = low[v] = len(index); stack.append(v); on.add(v)
    for w in calls[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            out.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(files):
    if v not in index:
        visit(v)
for c in out:
    print('cycle: ' + ' '.join(c))
print('files %d calls %d' % (len(files), sum(len(v) for v in calls.values())))
PY
)
echo "$report" | sed 's/^/# /'
eqv "no call goes up a layer or across registry/ and ldap/" "" "$(echo "$report" | grep '^up:')"
eqv "no cycle among nhictl's files" "" "$(echo "$report" | grep '^cycle:')"
check "the objects were read (calls found)" bash -c '[ "$(echo "$1" | sed -n "s/^files \([0-9]*\) calls \([0-9]*\)$/\2/p")" -gt 100 ]' _ "$report"
finish
