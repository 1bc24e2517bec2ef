#!/usr/bin/env bash
# Rebuilds the shipped meta-datasets (datasets/meta-{mlp,cnn}.*) and policies (policies/default.json,
# no-cnn.json, no-mlp.json) exactly as they were built. Trained zoo models are cached in
# $AUTOPRUNE_CACHE_DIR (default ~/.cache/autoprune/models), so a rerun skips dense training.
# Wall time on a 2-core machine: ~15 min (mlp) + ~18 min (cnn) + a few minutes of policy training.
# Note: default.json and no-mlp.json as shipped were trained on the previous meta-cnn (3 models,
# accuracy judge; `git show 08d0672:datasets/meta-cnn.json`); this script now reproduces default-v2.json
# as default.json (docs/oracle.md, "The rebuilt cnn labels", says why it is not swapped in yet).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build

ap() { node bin/autoprune.js "$@"; }
ap build-meta --family mlp --workers 2 --out datasets/meta-mlp.json
ap build-meta --family cnn --workers 2 --out datasets/meta-cnn.json
ap train-policy --kind cart --meta datasets/meta-mlp.json datasets/meta-cnn.json --out policies/default.json
ap train-policy --kind cart --meta datasets/meta-mlp.json --out policies/no-cnn.json
ap train-policy --kind cart --meta datasets/meta-cnn.json --out policies/no-mlp.json
# The linear policies (logistic regression; docs/policy.md "Kinds", docs/oracle.md for their measurements).
ap train-policy --kind linear --meta datasets/meta-mlp.json datasets/meta-cnn.json --out policies/linear.json
ap train-policy --kind linear --meta datasets/meta-mlp.json --out policies/linear-no-cnn.json
ap train-policy --kind linear --meta datasets/meta-cnn.json --out policies/linear-no-mlp.json

# The oracle-vs-magnitude measurement in docs/oracle.md (reuses the cached models and oracle results):
# node -e "import('./dist/meta/cli-oracle-eval.js').then(m => m.main({ family: 'mlp', models: ['mlp-300-100-s100','mlp-200-100-s102','mlp-500-150-s101'] }))"
# node -e "import('./dist/meta/cli-oracle-eval.js').then(m => m.main({ family: 'cnn', models: ['cnn-lenet5-s100'], targets: [0.9, 0.95, 0.98] }))"
