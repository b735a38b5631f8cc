"""Themes of the 9,178 negative airline tweets against the reasons people coded, and volume.

Dataset: ../shared/datasets/airline-tweets (CrowdFlower "Twitter US Airline Sentiment", CC
BY-NC-SA 4.0; see its README). It holds real screen names and tweet text: these tests read
aggregate numbers only and never print or store a tweet.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from retain.report.voice import plot_volume, volume_table
from retain.voice.agreement import theme_agreement
from retain.voice.volume import daily_volume

pytestmark = pytest.mark.slow

# Measured with retain.voice.themes defaults (features analyzer, NMF, k=10) on 2026-12-06,
# docs/voice.md: AMI 0.1756 against the coded negativereason; bag-of-words + KMeans 0.0432.
MEASURED_AMI = 0.1756
MEASURED_BASELINE = 0.0432


@pytest.fixture(scope="module")
def negative() -> pd.DataFrame:
    # ../shared/datasets beside the repository, as tests/conftest.py's ``datasets`` fixture
    path = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "airline-tweets"
    path = path / "Tweets.csv.gz"
    if not path.is_file():
        pytest.skip(f"airline tweets not found at {path} (shared datasets, see DEVELOPERS.md)")
    tweets = pd.read_csv(path)
    return tweets[tweets["airline_sentiment"] == "negative"].reset_index(drop=True)


def test_themes_line_up_with_coded_reasons_better_than_bag_of_words(
    negative: pd.DataFrame,
) -> None:
    assert len(negative) == 9178  # the README's count
    found = theme_agreement(list(negative["text"]), list(negative["negativereason"]), 10)
    assert found.ami == pytest.approx(MEASURED_AMI, abs=0.01)
    assert found.baseline_ami == pytest.approx(MEASURED_BASELINE, abs=0.01)
    assert found.ami >= found.baseline_ami + 0.10  # the margin over the baseline
    reasons = sorted(negative["negativereason"].unique())
    shares = found.mix[reasons].sum(axis=1)
    assert shares.round(0).eq(100).all()  # each theme's coded-reason mix adds up
    assert int(found.mix["texts"].sum()) == len(negative)
    # at least one theme is mostly one coded reason (cancellations read as such)
    assert float(found.mix[reasons].max(axis=1).max()) >= 70.0


def test_complaint_volume_per_airline_per_day(negative: pd.DataFrame) -> None:
    volume = daily_volume(negative, time="tweet_created", group="airline")
    totals = volume.groupby("group")["complaints"].sum()
    assert totals.to_dict() == negative["airline"].value_counts().to_dict()
    days = volume["day"].nunique()
    assert len(volume) == days * 6  # every airline on every day, quiet days as 0
    assert volume["day"].min() == pd.Timestamp("2015-02-16")  # README: 2015-02-16 ... 02-24
    fig = plot_volume(volume, title="volume")
    assert len(fig.data) == 6
    table = volume_table(volume)
    assert len(table) == 6
