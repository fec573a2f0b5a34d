# Documentation tests: man pages render without warnings and name every
# nhictl verb/option and every nhi.conf key.
TESTS += tests/test-man.sh
EXTRA_DIST += tests/test-man.sh
# The README's first command: scripts/demo.sh on the build under test.
TESTS += tests/test-demo.sh
EXTRA_DIST += tests/test-demo.sh
# The README's directory walkthrough: scripts/demo-ldap.sh on the build
# under test, with its own throwaway slapd.
TESTS += tests/test-demo-ldap.sh
EXTRA_DIST += tests/test-demo-ldap.sh
