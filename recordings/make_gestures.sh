#!/bin/sh
# Regenerates recordings/gestures.aedat4 and recordings/gestures_labels.csv: the synthetic
# DVS (128x128, default pixel model: threshold 0.2 +- 0.03 log units, refractory 100 us,
# background noise 0.1 Hz/pixel) watching a person perform all 11 DVS Gesture classes once,
# 1.0-1.4 s each with rest pauses, seed 7. The output is deterministic: same command, same events.
# Run from the repository root:  sh recordings/make_gestures.sh
set -e
exec "${EVSTREAM:-evstream}" record gestures recordings/gestures.aedat4 \
    --gestures 11 --labels 3,0,9,5,1,7,10,2,6,8,4 --gesture-seconds 1.0,1.4 \
    --seed 7 --speed 0 --compression zstd "$@"
