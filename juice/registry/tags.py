"""The registry's vocabulary: the tags it writes on registered versions, and their values.

A version's numbers (test metrics, threshold) are its training run's metrics and its
card's; the tags say what happened to it (the gate, promotions) and what it was trained on.
"""

from __future__ import annotations

from juice.schema import OUTSIDE_JUICE

GATE = "gate"  # the gate's verdict on the version, one of the statuses below
GATE_REASON = "gate_reason"
PROMOTED_AT = "promoted_at"  # when it last became the champion
PROMOTED_BY = "promoted_by"  # who made it so: the gate, the CLI, a rollback
PROMOTION_REASON = "promotion_reason"
OUTSIDE = OUTSIDE_JUICE  # who moved the champion alias when juice did not (PROMOTED_BY)
DATASET_VERSION = "dataset_version"  # the DVC version of the data it was trained on
DATA_HASH = "data_hash"  # the content hash of that data

# Statuses of a version, as `juice models` lists them.
PROMOTED, REJECTED, FAILED, PENDING = "promoted", "rejected", "failed", "pending"
CHAMPION_STATUS, PROMOTED_EARLIER = "champion", "promoted earlier"

# Metrics of a training run, beside one per test metric (`test_<name>`).
THRESHOLD_METRIC = "threshold"
TEST_METRIC_PREFIX = "test_"

# What the champion is judged against (default: its training data and its test figure).
REFERENCE = "reference"  # the content hash of the data it was last confirmed on
REFERENCE_AVERAGE_PRECISION = "reference_average_precision"  # its figure on that data
CONFIRMED_AT = "confirmed_at"

# Tags of the registered model itself: what the tracking server alone tells about the
# champion (the API in a container sees nothing else).
PROMOTION_INTENT = "juice.promotion_intent"  # a promotion begun: written before the alias moves
CHAMPION_RECORD = "juice.champion"  # the last promotion completed, the alias's version
