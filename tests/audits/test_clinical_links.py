from __future__ import annotations

from memaudit.audits.clinical_links import linked_codes


def test_linked_codes_need_several_subjects_and_a_lift() -> None:
    # 600 subjects, 40 with the group; 12 of the 15 on drug D have it, 20 of the 300 with lab L do,
    # and the one subject with rare code R has it
    codes = {
        s: (["D"] if s < 15 else []) + (["L"] if s % 2 else []) + (["R"] if s == 0 else [])
        for s in range(600)
    }
    has = {s: s < 12 or 15 <= s < 43 for s in range(600)}
    assert (
        sum(has.values()) == 40
        and sum(has[s] for s in range(15)) == 12
        and sum(has[s] for s in range(1, 600, 2)) == 20
    )
    assert linked_codes(codes, has) == {"D"}
    assert linked_codes(codes, has, min_subjects=1) == {"D", "R"}
