"""A push's answer is read up to the end of its report, not until the server's own
after-work (git gc --auto) ends: lanai.git.receive._report."""

from __future__ import annotations

from lanai.git import receive


class Answer:
    """An HTTP response body handed out in the pieces the server sent it in."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = list(pieces)
        self.asked = 0

    def read1(self, _size: int = -1) -> bytes:
        self.asked += 1
        return self.pieces.pop(0) if self.pieces else b""


REPORT = receive.pkt_line(b"unpack ok\n") + receive.pkt_line(b"ok refs/heads/main\n") + b"0000"


def test_the_report_ends_the_read_before_the_server_is_done() -> None:
    answer = Answer(REPORT[:9], REPORT[9:], b"the server still working")
    got = receive._report(answer)  # type: ignore[arg-type]
    assert got == REPORT
    assert answer.asked == 2
    assert receive.parse_result(got, ["refs/heads/main"]) == {}


def test_an_answer_that_ends_without_a_report_is_read_whole() -> None:
    partial = receive.pkt_line(b"unpack ok\n")
    answer = Answer(partial)
    assert receive._report(answer) == partial  # type: ignore[arg-type]


def test_flush_detection_follows_pkt_line_lengths() -> None:
    assert receive._ends_report(REPORT)
    assert not receive._ends_report(REPORT[:-4])
    # "0000" inside a pkt-line's payload is not a flush.
    assert not receive._ends_report(receive.pkt_line(b"ng refs/x 0000\n"))
    assert not receive._ends_report(b"zz")
