#!/bin/sh
# terraform-check.sh - the Terraform configuration checked by Terraform
# itself, as TAP (meson test terraform, suite 'deploy'):
#   fmt        terraform fmt -check -recursive deploy/terraform
#   init       terraform init -backend=false from a local provider mirror
#   validate   terraform validate: unknown arguments and blocks, wrong types,
#              provider-side argument checks, missing references
#   test       terraform test -var-file=envs/<env>/terraform.tfvars of
#              deploy/terraform/tests/plan.tftest.hcl for each environment,
#              assertions against mock_provider "aws" (Multi-AZ, backups and
#              replication in prod, alarms and their SNS topic everywhere, ...),
#              and tests/variants.tftest.hcl once, on the dev values (settings
#              no environment uses: TLS to Redis, uploads in S3)
#   bootstrap  init and validate of deploy/terraform/bootstrap (the state
#              bucket)
#
#   deploy/terraform-check.sh [SOURCE_ROOT]
#
# Nothing is written into the source tree: init, validate and test run on a
# copy in a temporary directory. The registry is not reached: the AWS
# provider comes from TF_PLUGIN_MIRROR (default /opt/tf-plugins, the folder
# that holds registry.terraform.io/hashicorp/aws/<version>/<os_arch>).
# Without a terraform binary the whole test is skipped ("1..0 # SKIP");
# without the provider in the mirror, fmt runs and the other checks are
# skipped one by one, with the reason.
set -u

src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
tfdir=$src/deploy/terraform
mirror=${TF_PLUGIN_MIRROR:-/opt/tf-plugins}

if ! command -v terraform >/dev/null 2>&1; then
    echo "1..0 # SKIP terraform binary not found (https://developer.hashicorp.com/terraform/install)"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
# No user CLI configuration, no plugin cache, no checkpoint call home.
TF_CLI_CONFIG_FILE=/dev/null
TF_DATA_DIR=$tmp/data
TF_IN_AUTOMATION=1
CHECKPOINT_DISABLE=1
export TF_CLI_CONFIG_FILE TF_DATA_DIR TF_IN_AUTOMATION CHECKPOINT_DISABLE

n=0
failed=0

check() {
    name=$1
    shift
    n=$((n + 1))
    if "$@" >"$out" 2>&1; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name"
        sed 's/^/# /' "$out"
        failed=$((failed + 1))
    fi
}

skip() {
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}

check "terraform fmt -check -recursive deploy/terraform" \
    terraform -chdir="$tfdir" fmt -check -recursive -diff -no-color

work=$tmp/terraform
cp -R "$tfdir" "$work"
rm -rf "$work/.terraform" "$work/.terraform.lock.hcl"

if ls -d "$mirror"/registry.terraform.io/hashicorp/aws/*/* >/dev/null 2>&1; then
    check "terraform init -backend=false -plugin-dir=$mirror" \
        terraform -chdir="$work" init -backend=false -input=false -no-color \
        -plugin-dir="$mirror"
    if [ "$failed" -eq 0 ]; then
        check "terraform validate" terraform -chdir="$work" validate -no-color
        for vars in "$work"/envs/*/terraform.tfvars; do
            env=$(basename "$(dirname "$vars")")
            check "terraform test tests/plan.tftest.hcl -var-file=envs/$env/terraform.tfvars" \
                terraform -chdir="$work" test -no-color -filter=tests/plan.tftest.hcl \
                -var-file="envs/$env/terraform.tfvars"
        done
        check "terraform test tests/variants.tftest.hcl -var-file=envs/dev/terraform.tfvars" \
            terraform -chdir="$work" test -no-color -filter=tests/variants.tftest.hcl \
            -var-file=envs/dev/terraform.tfvars
    else
        skip "terraform validate" "init failed"
        skip "terraform test" "init failed"
    fi
    # shellcheck disable=SC2016 # $1 and $2 expand in the inner shell
    check "bootstrap: terraform init -backend=false and validate" sh -c '
        terraform -chdir="$1" init -backend=false -input=false -no-color -plugin-dir="$2" &&
        terraform -chdir="$1" validate -no-color' sh "$work/bootstrap" "$mirror"
else
    why="no hashicorp/aws provider in $mirror (set TF_PLUGIN_MIRROR)"
    skip "terraform init" "$why"
    skip "terraform validate" "$why"
    skip "terraform test" "$why"
    skip "bootstrap validate" "$why"
fi

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
