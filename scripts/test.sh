#!/usr/bin/env bash
# Every test of the workspace, with the servers and tools they need: installs what is missing
# (scripts/test-services.sh says what), then runs cargo test with those services required, so
# that a test that needs one fails rather than passing without running. Extra arguments go to
# cargo test.
set -euo pipefail
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"

bash "$here/test-services.sh"
EVENTFOLD_TEST_SERVICES=required cargo test --release --workspace "$@"
