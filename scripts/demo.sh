#!/usr/bin/env bash
# Set up (Python 3.12+ virtual environment with icetrack) and run the main job on the embedded demo glacier:
# write the demo scenes of spring 2021 as GeoTIFFs, then track a 16-day pair on one path.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mkdir -p out
icetrack demo -o out/demo_scenes --start 2021-05-01 --end 2021-06-15
# two acquisitions of the same WRS-2 path (the 6 digits after the processing level), 16 days apart
path=$(ls out/demo_scenes | head -n 1 | cut -d_ -f3)
set -- $(ls out/demo_scenes/*_"$path"_*_red.tif | head -n 2)
# the trunk moves up to ~40 m/day (21 px of 30 m in 16 days): search further than the default 20 px
icetrack track "$1" "$2" -o out/demo_velocity.nc --search-range 40
echo "Velocity field written to out/demo_velocity.nc (open it with xarray, QGIS or: icetrack --help)"
