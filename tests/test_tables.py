"""The small tables users hand the audit: one clear line when one cannot be used."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from memaudit.cohort.sensitive import build_group
from memaudit.config.sections import SensitiveGroup
from memaudit.errors import UserInputError
from memaudit.pipeline import read_unseen_members
from memaudit.tables import first_line, read_table


def test_first_line_of_a_long_message_and_of_an_empty_one() -> None:
    assert first_line(ValueError("bad footer\nat offset 12\n...")) == "bad footer"
    assert first_line(ValueError("x" * 500)) == "x" * 200
    assert first_line(KeyError()) == "KeyError"  # no message: the type, not an IndexError


def test_read_table_reads_parquet_or_csv_and_names_what_is_wrong(tmp_path: Path) -> None:
    frame = pl.DataFrame({"subject_id": [3, 1], "code": ["A", "B"]})
    frame.write_parquet(tmp_path / "t.parquet")
    frame.write_csv(tmp_path / "t.csv")
    for name in ("t.parquet", "t.csv"):
        assert read_table(tmp_path / name, "e", "f", columns=("code",)).equals(frame)
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(UserInputError, match=r"expected a table; got .*broken\.parquet: .*Fix: rewrite it"):
        read_table(tmp_path / "broken.parquet", "a table", "rewrite it")
    with pytest.raises(UserInputError, match=r"t\.csv lacking columns \['index'\]"):
        read_table(tmp_path / "t.csv", "a table", "rewrite it", columns=("code", "index"))


def test_unseen_members_file_problems_are_one_clear_error(tmp_path: Path) -> None:
    good = tmp_path / "unseen.csv"
    good.write_text("subject_id\n7\n9\n")
    assert read_unseen_members(str(good)) == frozenset({7, 9})
    for text, needle in (("member\n7\n", "lacking columns ['subject_id']"), ("subject_id\nabc\n", "abc")):
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(UserInputError, match=r"reference\.unseen_members") as err:
            read_unseen_members(str(bad))
        assert needle in str(err.value)
    with pytest.raises(UserInputError, match=r"nowhere\.parquet"):
        read_unseen_members(str(tmp_path / "nowhere.parquet"))


def test_code_files_take_a_code_column_or_lines_and_refuse_the_rest(tmp_path: Path) -> None:
    pl.DataFrame({"code": ["MED//Biktarvy"]}).write_parquet(tmp_path / "hiv.parquet")
    (tmp_path / "hiv.txt").write_text("# antiretrovirals\nMED//Truvada\n")
    group = build_group(
        "hiv", SensitiveGroup(code_files=(str(tmp_path / "hiv.parquet"), str(tmp_path / "hiv.txt")))
    )
    assert {"MED//Biktarvy", "MED//Truvada"} <= set(group.codes)
    pl.DataFrame({"name": ["MED//Biktarvy"]}).write_csv(tmp_path / "wrong.csv")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00\x81")
    for name, needle in (
        ("wrong.csv", "lacking columns ['code']"),
        ("binary.txt", "binary.txt"),
        ("none.txt", "none"),
    ):
        with pytest.raises(UserInputError, match="code_files") as err:
            build_group("hiv", SensitiveGroup(code_files=(str(tmp_path / name),)))
        assert needle in str(err.value)
