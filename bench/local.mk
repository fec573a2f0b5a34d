# bench: the NSS lookup benchmark (built by make, not run by the tests;
# bench/run.sh runs everything and writes bench/RESULTS.md).
noinst_PROGRAMS += bench/nhi-bench
bench_nhi_bench_SOURCES = bench/nhi-bench.c
bench_nhi_bench_LDADD = lib/libnhiadmin.la lib/libnhi.la -ldl
EXTRA_DIST += bench/run.sh bench/RESULTS.md bench/sync.sh bench/sssd.sh bench/build.sh bench/reach-ldap.sh \
	bench/pam-ruser.sh \
	bench/fleet.sh bench/reach.sh bench/common.sh bench/discover.sh bench/audit.sh \
	bench/apply.sh
