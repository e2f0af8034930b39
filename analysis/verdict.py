"""Pure whole-run verdict: the report's targets, the --threshold judgements and whether the run ended cleanly."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.thresholds import Judgement

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
"""`python -m analysis report` exit codes (docs/reference/exit-codes.md)."""


@dataclass(frozen=True)
class Verdict:
    """PASS only when every gating target holds, every threshold holds and the run ended cleanly."""

    targets_ok: bool
    judgements: tuple[Judgement, ...] = ()
    incomplete: str = ""
    """Why the run did not end cleanly; "" when it did (or nothing recorded says otherwise)."""

    @property
    def thresholds_ok(self) -> bool:
        return all(j.passed is not False for j in self.judgements)

    @property
    def word(self) -> str:
        if self.incomplete:
            return "INCOMPLETE"
        return "PASS" if self.targets_ok and self.thresholds_ok else "FAIL"

    @property
    def exit_code(self) -> int:
        return {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCOMPLETE": EXIT_INCOMPLETE}[self.word]

    def head(self, targets_met: int, targets_gating: int) -> str:
        """`PASS (4/4 targets met, 2/2 thresholds met)`; an incomplete run says why."""
        parts = [f"{targets_met}/{targets_gating} targets met"]
        if self.judgements:
            met = sum(1 for j in self.judgements if j.passed is not False)
            parts.append(f"{met}/{len(self.judgements)} thresholds met")
        if self.incomplete:
            parts.append(f"incomplete: {self.incomplete}")
        return f"{self.word} ({', '.join(parts)})"

    def missed_thresholds(self) -> list[str]:
        """`threshold p99<0.01ms` for each failed threshold, for the verdict line's list of misses."""
        return [f"threshold {j.threshold.text}" for j in self.judgements if j.passed is False]
