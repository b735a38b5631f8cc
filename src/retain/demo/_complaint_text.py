"""What demo customers write when they complain, in their language (ja, ko, en).

Two sentences per (language, complaint reason), so theme finding (retain.voice.themes) has real
Japanese and Korean text with no spaces between words to group. The sentence is chosen from the
customer's country and the complaint's reason, and alternates by position: no random draw, so
adding text leaves every other number of the demo unchanged. No quote or backslash appears in
a sentence, so each can be spliced into a JSON string as it is.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from retain.demo._customers import pick
from retain.demo._params import COMPLAINT_REASONS

__all__ = ["complaint_text"]

# Languages in retain.demo._world.COUNTRIES order (JP, KR, US); reasons in COMPLAINT_REASONS order.
_TEXTS: tuple[dict[str, tuple[str, str]], ...] = (
    {
        "late_delivery": (
            "配送が遅いです。注文から一週間たっても届きません。",
            "商品がまだ届きません。配送が遅すぎます。",
        ),
        "damaged_item": (
            "届いた商品が壊れていました。箱も破損しています。",
            "商品に傷があり、破損していました。交換してください。",
        ),
        "billing_error": (
            "請求金額が間違っています。二重に請求されました。",
            "同じ注文で二回請求されました。返金してください。",
        ),
        "app_bug": (
            "アプリが起動しません。ログインするとエラーになります。",
            "アプリのエラーで注文できません。すぐ直してください。",
        ),
        "rude_staff": ("サポートの対応が失礼でした。", "電話の担当者の態度が悪く、不快でした。"),
        "wrong_item": (
            "注文と違う商品が届きました。",
            "届いた商品のサイズが違います。注文した物と違う。",
        ),
    },
    {
        "late_delivery": (
            "배송이 너무 늦어요. 일주일이 지나도 도착하지 않았어요.",
            "상품이 아직 도착하지 않았어요. 배송이 늦습니다.",
        ),
        "damaged_item": (
            "받은 상품이 파손되어 있었어요. 상자도 찢어졌어요.",
            "상품에 흠집이 있고 파손되었습니다. 교환해 주세요.",
        ),
        "billing_error": (
            "결제 금액이 잘못되었습니다. 이중 결제가 되었어요.",
            "같은 주문에 두 번 결제되었습니다. 환불해 주세요.",
        ),
        "app_bug": (
            "앱이 실행되지 않아요. 로그인하면 오류가 납니다.",
            "앱 오류 때문에 주문할 수 없어요. 빨리 고쳐 주세요.",
        ),
        "rude_staff": (
            "상담원이 너무 불친절했어요.",
            "고객센터 상담원의 태도가 불친절하고 무례했습니다.",
        ),
        "wrong_item": (
            "주문한 것과 다른 상품이 왔어요.",
            "받은 상품의 사이즈가 달라요. 주문한 상품이 아닙니다.",
        ),
    },
    {
        "late_delivery": (
            "My order is late, still not delivered after a week.",
            "The delivery is late again and the parcel has not arrived.",
        ),
        "damaged_item": (
            "The item arrived broken and the box was damaged.",
            "My order came damaged, please send a replacement.",
        ),
        "billing_error": (
            "I was charged twice for the same order.",
            "The amount billed is wrong, please refund the double charge.",
        ),
        "app_bug": (
            "The app crashes when I log in.",
            "I cannot order because the app shows an error.",
        ),
        "rude_staff": (
            "The support agent was rude to me.",
            "Your staff on the phone were rude and unhelpful.",
        ),
        "wrong_item": (
            "I received the wrong item.",
            "The size is wrong, this is not what I ordered.",
        ),
    },
)
_FLAT = [s for lang in _TEXTS for reason in COMPLAINT_REASONS for s in lang[reason]]


def complaint_text(country: np.ndarray, reason: np.ndarray) -> pa.Array:
    """The sentence of each complaint: the customer's ``country`` index, the ``reason`` index."""
    variant = np.arange(reason.size) % 2
    index = (np.asarray(country, np.int64) * len(COMPLAINT_REASONS) + reason) * 2 + variant
    return pick(_FLAT, index)
