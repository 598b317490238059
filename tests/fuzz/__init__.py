"""Fuzzing: mutate real fixture bytes, check every parser fails only with layerscope errors.

seeds      fixture images and where their metadata lives (regions and fields to hit)
mutate     byte-level mutation strategies (flips, fields, splices, truncation)
tarmut     tar-header-aware mutations, recompressed as gzip/zstd
jsonmut    OCI JSON documents mutated and re-linked by digest into layouts
targets    one Target per parser: a strategy of cases and a run(case) that parses it
check      run one case under a time and memory budget, classify the outcome
"""
