#!/bin/sh
# One-shot MinIO setup, run by the compose service `createbuckets` (image minio/mc) once MinIO is
# healthy. Safe to run again: every step leaves what already exists as it is (a policy is rewritten
# from its file, a user's secret key reset to the one given).
#
#  1. the bucket MLflow keeps its artifacts in (MLFLOW_BUCKET; s3://mlflow/ in docker-compose.yml) and,
#     when MLflow's key pair (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) differs from the root
#     credentials, a MinIO user with that key pair, allowed into that bucket only;
#  2. the data bucket (SYNTH_BUCKET, default `synth`), whose prefixes sources/, outputs/ and checkpoints/
#     the two roles below are held to;
#  3. the policies synth-runner and synth-viewer, from policies/*.json beside this script (their
#     ${SYNTH_BUCKET} replaced by the bucket's name), and a user for each: the refreshes' runner
#     (MINIO_RUNNER_ACCESS_KEY / _SECRET_KEY: reads sources/, writes outputs/ and checkpoints/) and
#     the viewer (MINIO_VIEWER_ACCESS_KEY / _SECRET_KEY: reads outputs/ only).
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${AWS_ACCESS_KEY_ID:?}" "${AWS_SECRET_ACCESS_KEY:?}"
: "${MINIO_RUNNER_ACCESS_KEY:?}" "${MINIO_RUNNER_SECRET_KEY:?}"
: "${MINIO_VIEWER_ACCESS_KEY:?}" "${MINIO_VIEWER_SECRET_KEY:?}"
mlflow_bucket="${MLFLOW_BUCKET:-mlflow}"
data_bucket="${SYNTH_BUCKET:-synth}"
policies="${0%/*}/policies"

fail() {
    echo "create-buckets: $*" >&2
    exit 1
}

# A bucket name goes into the policies' ARNs: S3's own rules (lowercase letters, digits, dots, hyphens).
case "$data_bucket" in
    "" | *[!a-z0-9.-]*) fail "SYNTH_BUCKET='$data_bucket' is not a bucket name (lowercase letters, digits, '.', '-')" ;;
esac
[ "$data_bucket" != "$mlflow_bucket" ] || fail "SYNTH_BUCKET and MLflow's bucket are both '$data_bucket'"
# Each role is its own MinIO user: a shared or root key would carry the other's rights.
for key in "$MINIO_RUNNER_ACCESS_KEY" "$MINIO_VIEWER_ACCESS_KEY"; do
    [ "$key" != "$MINIO_ROOT_USER" ] || fail "a role's access key is the root user's; give each role its own"
    [ "$key" != "$AWS_ACCESS_KEY_ID" ] || fail "a role's access key is MLflow's; give each role its own"
done
[ "$MINIO_RUNNER_ACCESS_KEY" != "$MINIO_VIEWER_ACCESS_KEY" ] || fail "the runner and the viewer share an access key"

# Attaching a policy the user already has is reported as an error; that case is fine.
attach() {  # policy user
    if ! out="$(mc admin policy attach local "$1" --user "$2" 2>&1)"; then
        case "$out" in
            *"already in effect"*) ;;
            *) echo "$out" >&2; exit 1 ;;
        esac
    fi
}

# The policy file with every ${SYNTH_BUCKET} replaced, in plain sh: of the mc image, only the shell and cat
# are assumed (the script already needs cat).
fill() {  # file
    text="$(cat "$1")"
    filled=""
    while :; do
        case "$text" in
            *'${SYNTH_BUCKET}'*)
                filled="$filled${text%%'${SYNTH_BUCKET}'*}$data_bucket"
                text="${text#*'${SYNTH_BUCKET}'}"
                ;;
            *) break ;;
        esac
    done
    printf '%s\n' "$filled$text"
}

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

# 1. MLflow's artifact bucket and user
mc mb --ignore-existing "local/$mlflow_bucket"
if [ "$AWS_ACCESS_KEY_ID" = "$MINIO_ROOT_USER" ]; then
    echo "create-buckets: MLflow uses the root credentials; no separate user created"
else
    policy="${mlflow_bucket}-readwrite"
    policy_file=/tmp/mlflow-bucket-policy.json
    cat > "$policy_file" <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::$mlflow_bucket"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::$mlflow_bucket/*"]}
  ]
}
POLICY
    mc admin policy create local "$policy" "$policy_file"
    rm -f "$policy_file"
    mc admin user add local "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"  # an existing user: secret reset
    attach "$policy" "$AWS_ACCESS_KEY_ID"
    echo "create-buckets: bucket '$mlflow_bucket' ready; user '$AWS_ACCESS_KEY_ID' has policy '$policy'"
fi

# 2. the data bucket
mc mb --ignore-existing "local/$data_bucket"

# 3. the runner's and the viewer's policies and users
for role in runner viewer; do
    if [ "$role" = runner ]; then
        access_key="$MINIO_RUNNER_ACCESS_KEY" secret_key="$MINIO_RUNNER_SECRET_KEY"
    else
        access_key="$MINIO_VIEWER_ACCESS_KEY" secret_key="$MINIO_VIEWER_SECRET_KEY"
    fi
    policy="synth-$role"
    [ -f "$policies/$policy.json" ] || fail "no policy file $policies/$policy.json"
    policy_file="/tmp/$policy-policy.json"
    fill "$policies/$policy.json" > "$policy_file"
    mc admin policy create local "$policy" "$policy_file"
    rm -f "$policy_file"
    mc admin user add local "$access_key" "$secret_key"
    attach "$policy" "$access_key"
    echo "create-buckets: bucket '$data_bucket' ready; user '$access_key' has policy '$policy'"
done
