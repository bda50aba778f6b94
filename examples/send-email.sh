#!/bin/sh
# An example job command for `rampart work email-send -- ./examples/send-email.sh`.
#
# rampart runs it once per job: the job's payload JSON arrives on standard
# input, and RAMPART_JOB_ID, RAMPART_ATTEMPT and RAMPART_QUEUE are set.
# Exit 0 completes the job (standard output becomes its result when it is
# JSON), exit 75 fails it for good (no retry), any other exit fails the
# attempt with the end of standard error as the error.
set -eu

payload=$(cat)

case "$payload" in
    *'"to"'*) ;;
    *)
        echo "the payload has no \"to\" address: $payload" >&2
        exit 75
        ;;
esac

# A real command would send the email here.
echo "job $RAMPART_JOB_ID (attempt $RAMPART_ATTEMPT): sending $payload" >&2
printf '{"sent": true, "job": "%s"}\n' "$RAMPART_JOB_ID"
