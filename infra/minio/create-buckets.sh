#!/bin/sh
# One-shot MinIO setup, run by the compose service `createbuckets` (image minio/mc) once MinIO is
# healthy. Safe to run again: every step leaves what already exists as it is.
#
#  1. the bucket MLflow keeps its artifacts in (MLFLOW_BUCKET; s3://mlflow/ in docker-compose.yml);
#  2. when MLflow's key pair (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) differs from the root
#     credentials, a MinIO user with that key pair, allowed into that bucket only.
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${AWS_ACCESS_KEY_ID:?}" "${AWS_SECRET_ACCESS_KEY:?}"
bucket="${MLFLOW_BUCKET:-mlflow}"
policy="${bucket}-readwrite"

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$bucket"

if [ "$AWS_ACCESS_KEY_ID" = "$MINIO_ROOT_USER" ]; then
    echo "create-buckets: MLflow uses the root credentials; no separate user created"
    exit 0
fi

policy_file=/tmp/mlflow-bucket-policy.json
cat > "$policy_file" <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::$bucket"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::$bucket/*"]}
  ]
}
POLICY
mc admin policy create local "$policy" "$policy_file"
rm -f "$policy_file"

# Adding an existing user only resets its secret key.
mc admin user add local "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
# Attaching a policy the user already has is reported as an error; that case is fine.
if ! out="$(mc admin policy attach local "$policy" --user "$AWS_ACCESS_KEY_ID" 2>&1)"; then
    case "$out" in
        *"already in effect"*) ;;
        *) echo "$out" >&2; exit 1 ;;
    esac
fi
echo "create-buckets: bucket '$bucket' ready; user '$AWS_ACCESS_KEY_ID' has policy '$policy'"
