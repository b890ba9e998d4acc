#!/usr/bin/env bash
# A two-host MPI training run on one machine: two network namespaces (one
# network stack per "host") joined by a veth pair with addresses that exist
# only inside them. mpirun starts in host A and launches host B's daemon
# through an rsh agent that enters B's namespace (where a cluster would use
# ssh); the ranks talk over TCP on the veth only (no shared memory). The run
# must give one process's weights (max |difference| <= 1e-5 of the largest
# weight), and host B must have received at least the gradients of every
# step over the veth. Needs root (ip netns) and iproute2; skips (exit 77)
# saying which is missing.
# Usage: two_hosts_in_netns.sh CSPNET_BINARY CFG PYTHON
set -euo pipefail
cli="$(realpath "$1")" cfg="$(realpath "$2")" python="$3"
skip() { echo "SKIPPED: $*"; exit 77; }
command -v mpirun >/dev/null || skip "mpirun not found (openmpi-bin)"
"$cli" --version | grep -q "(with MPI)" || skip "this cspnet was built without MPI (libopenmpi-dev)"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "ip not found (iproute2)"
tag="csp$$"
host_a="$tag-a" host_b="$tag-b"
subnet=10.231.$(($$ % 200 + 20))
address_a="$subnet.1" address_b="$subnet.2"
work="$(mktemp -d)"
cleanup() {
  ip netns del "$host_a" 2>/dev/null || true
  ip netns del "$host_b" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$host_a" 2>/dev/null || skip "cannot create a network namespace here (ip netns add failed)"
ip netns add "$host_b"
ip link add "$tag-va" type veth peer name "$tag-vb"
ip link set "$tag-va" netns "$host_a"
ip link set "$tag-vb" netns "$host_b"
ip -n "$host_a" addr add "$address_a/24" dev "$tag-va"
ip -n "$host_b" addr add "$address_b/24" dev "$tag-vb"
for side in a b; do
  ns="$tag-$side"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$tag-v$side" up
done

# The rsh agent: "AGENT HOST COMMAND..." runs COMMAND on HOST (B only).
cat >"$work/agent" <<AGENT
#!/usr/bin/env bash
[ "\$1" = "$address_b" ] || { echo "agent: unknown host \$1" >&2; exit 1; }
shift
exec ip netns exec "$host_b" bash -c "\$*"
AGENT
chmod +x "$work/agent"

steps=6
train=(--threads 1 train "$cfg" --max-batches "$steps" --eval-limit 33 --progress plain)
"$cli" "${train[@]}" --out "$work/one" >"$work/one.log" 2>&1 || { cat "$work/one.log" >&2; exit 1; }
ip netns exec "$host_a" \
  mpirun --allow-run-as-root --oversubscribe -np 2 --host "$address_a,$address_b" \
    --mca plm_rsh_agent "$work/agent" --mca btl tcp,self \
    --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" \
    "$cli" "${train[@]}" --out "$work/two" >"$work/two.log" 2>&1 || { cat "$work/two.log" >&2; exit 1; }
received_b="$(ip netns exec "$host_b" cat "/sys/class/net/$tag-vb/statistics/rx_bytes")"

"$python" - "$work" "$received_b" "$steps" <<'PY'
import sys, numpy as np
work, received, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def weights(name): return np.fromfile(f"{work}/{name}/final.weights", dtype=np.float32, offset=20)
one, two = weights("one"), weights("two")
assert one.size == two.size, f"two hosts: {two.size} floats, one process {one.size}"
d = float(np.abs(two - one).max() / np.abs(one).max())
print(f"two hosts (2 ranks over TCP) vs one process: max |difference| / max |weight| = {d:.3g}")
assert d <= 1e-5, f"two hosts differ from one process by {d:.3g} (> 1e-5)"
# No batch norm: the weights file holds exactly the trained parameters.
gradients = steps * one.size * 4
print(f"host B received {received} bytes over the veth ({steps} steps of gradients: {gradients} bytes)")
assert received >= gradients, "less than the gradients crossed the veth: the ranks did not talk over it"
PY
