"""Prints what bench/machine.mjs measured over a load (for bench/soak.sh and bench/city.sh): where
the machine's CPU time went, and the server's writes by phase."""


def print_machine(cpu, writes, servers="server"):
    """`cpu`: CPU seconds of the parts over `cpu["seconds"]` (None: not printed); `writes`: per
    phase its figures."""
    if cpu:
        print_cpu(cpu, servers)
    if not writes:
        print("writes: none timed")
        return
    held = sum(writes[p]["share_of_time"] for p in ("store", "apply") if p in writes)
    print(f"writes by phase (the write lock held {100 * held:.0f}% of the time, in store and apply):")
    for phase in ("wait", "store", "apply"):
        w = writes.get(phase)
        if w:
            under = f"{w['p99_under_ms']:g} ms" if w["p99_under_ms"] is not None else "over 30 s"
            print(f"  {phase:<6} {w['count']:>8,} times, mean {w['mean_ms']:>8} ms, 99% under {under}")
    together = writes.get("visits_per_commit")
    if together:
        print(f"  visits committed in {together['count']:,} transactions, {together['mean']} a transaction on average")


def print_cpu(cpu, servers):
    cores = (cpu["machine_busy"] + cpu["machine_idle"]) / cpu["seconds"] if cpu["seconds"] else 0
    other = cpu["machine_busy"] - cpu["servers"] - cpu["postgres"] - cpu["load_generator"]
    print(f"CPU over the load ({cpu['seconds']:.0f} s on {cores:.1f} cores, in cores busy on average): "
          f"{servers} {cpu['servers'] / cpu['seconds']:.2f}, PostgreSQL {cpu['postgres'] / cpu['seconds']:.2f}, "
          f"load generator {cpu['load_generator'] / cpu['seconds']:.2f}, other {other / cpu['seconds']:.2f}, "
          f"idle {cpu['machine_idle'] / cpu['seconds']:.2f}")
