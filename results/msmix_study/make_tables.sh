#!/bin/bash
# The study's tables from whatever runs have finished (PROTOCOL.md, "Commands"): one collect_experiment
# call per arena, backbone and family. Run from the repository root, where data/msmix_study and
# outputs/msmix_study are; writes results/msmix_study/<profile>/<backbone>/<family>/results.{json,md} and the
# runs the families share, results/msmix_study/<profile>/<backbone>/runs.json.
#   bash results/msmix_study/make_tables.sh <profile> <backbone>
set -euo pipefail
profile=$1
backbone=$2
REC=msmix:stop_gradient_per_sample_sal
folders=(outputs/msmix_study/"$profile"/"$backbone"/n*/"$profile"-*)
datasets=()
for folder in "${folders[@]}"; do datasets+=("data/msmix_study/$(basename "$folder")"); done
out=results/msmix_study/$profile/$backbone
collect() {
    python -m benchmarks.collect_experiment --prefix_parent --experiment_dir "${folders[@]}" --margins MAE=0.03 \
        --runs_file "$out/runs.json" "$@"
}
if [ "$backbone" = lmf ]; then
    collect --output_dir "$out/gate" --primary "mixup - none" "manifold_mixup - none"
    collect --output_dir "$out/msmix" --datasets "${datasets[@]}" \
        --primary "$REC - none" "msmix - none" "$REC - cmixup"
    collect --output_dir "$out/parts" --primary "$REC - ${REC}_no_sass" "$REC - ${REC}_no_sig" "$REC - ${REC}_no_sal"
else
    collect --output_dir "$out/gate" --primary "mixup - none"
    collect --output_dir "$out/msmix" --datasets "${datasets[@]}" --primary "$REC - none" "msmix - none"
fi
