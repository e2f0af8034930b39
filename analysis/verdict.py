"""Pure whole-run verdict: the one list of judged targets and --threshold expressions, and a clean end."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.targets import Target

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
"""`python -m analysis report` exit codes (docs/reference/exit-codes.md)."""


@dataclass(frozen=True)
class Verdict:
    """PASS only when every gating row (target or threshold) holds and the run ended cleanly; a row not judged
    (too few samples) does not fail it."""

    targets: tuple[Target, ...] = ()
    incomplete: str = ""
    """Why the run did not end cleanly; "" when it did (or nothing recorded says otherwise)."""

    def gating(self, source: str) -> list[Target]:
        """The gating rows from `source`: "target" (the report's own) or "threshold" (--threshold)."""
        return [t for t in self.targets if t.gates and t.source == source]

    @property
    def targets_ok(self) -> bool:
        return all(t.ok is not False for t in self.gating("target"))

    @property
    def thresholds_ok(self) -> bool:
        return all(t.ok is not False for t in self.gating("threshold"))

    @property
    def word(self) -> str:
        if self.incomplete:
            return "INCOMPLETE"
        return "PASS" if self.targets_ok and self.thresholds_ok else "FAIL"

    @property
    def exit_code(self) -> int:
        return {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCOMPLETE": EXIT_INCOMPLETE}[self.word]

    def head(self) -> str:
        """`PASS (4/4 targets met, 2/2 thresholds met)`: targets judged; thresholds not failed; an incomplete run
        says why."""
        judged = [t for t in self.gating("target") if t.ok is not None]
        parts = [f"{sum(1 for t in judged if t.ok)}/{len(judged)} targets met"]
        thresholds = self.gating("threshold")
        if thresholds:
            met = sum(1 for t in thresholds if t.ok is not False)
            parts.append(f"{met}/{len(thresholds)} thresholds met")
        if self.incomplete:
            parts.append(f"incomplete: {self.incomplete}")
        return f"{self.word} ({', '.join(parts)})"

    def missed_thresholds(self) -> list[str]:
        """`threshold p99<0.01ms` for each failed --threshold, for the verdict line's list of misses."""
        return [f"threshold {t.name}" for t in self.gating("threshold") if t.ok is False]
