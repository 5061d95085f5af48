#!/bin/sh
# Generates the synthetic training and held-out data of the shipped gesture model:
# recordings of the synthetic DVS (128x128, evstream's default pixel model) watching a
# person perform the 11 DVS Gesture classes, each recording one person (body place and
# size drawn from its seed) performing every class once (1.0-1.4 s each, rest pauses),
# in a rotated order, with its <stem>_labels.csv beside it.
# Train and held-out recordings use disjoint seeds (different people, timings, noise).
# Usage, from the repository root:  sh apps/gesture/make_data.sh OUT_DIR [N_TRAIN] [N_HELDOUT]
set -e
out=${1:?usage: make_data.sh OUT_DIR [N_TRAIN] [N_HELDOUT]}
n_train=${2:-12}
n_heldout=${3:-4}
evstream=${EVSTREAM:-evstream}
order=0,1,2,3,4,5,6,7,8,9,10,0,1,2,3,4,5,6,7,8,9
record() {  # record DIR SEED INDEX
    mkdir -p "$1"
    labels=$(echo "$order" | cut -d, -f$(( $3 % 11 + 1 ))-$(( $3 % 11 + 11 )))
    "$evstream" record gestures "$1/gestures_$2.aedat4" --gestures 11 --labels "$labels" \
        --gesture-seconds 1.0,1.4 --seed "$2" --speed 0 --compression zstd > /dev/null
}
i=0
while [ $i -lt "$n_train" ]; do record "$out/train" $(( 1000 + i )) $i; i=$(( i + 1 )); done
i=0
while [ $i -lt "$n_heldout" ]; do record "$out/heldout" $(( 2000 + i )) $i; i=$(( i + 1 )); done
