# credentials and rotation (issue 4): the real nhictl, a real sshd
CRED_TESTS = tests/test-nhictl-cred.sh tests/test-nhictl-cred-count.sh tests/test-sshd-keys.sh
TESTS += $(CRED_TESTS)
EXTRA_DIST += $(CRED_TESTS)
