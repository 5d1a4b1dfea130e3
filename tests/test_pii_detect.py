"""PII detection and masking: each type's positives, hard negatives, and offsets into the original text."""

from __future__ import annotations

import pytest

from sangdam.korean.pii import Entity, PiiType, detect, mask, placeholder
from sangdam.korean.pii.validators import foreigner_checksum_ok, luhn_ok, rrn_birth_date, rrn_checksum_ok


def _found(text: str) -> list[tuple[str, str]]:
    return [(e.type.value, text[e.start : e.end]) for e in detect(text)]


@pytest.mark.parametrize(
    ("text", "pii_type", "value"),
    [
        # resident registration numbers: checksum-valid, post-2020 (no checksum), split, partly written, spoken
        ("주민번호 850315-1408751입니다", "rrn", "850315-1408751"),
        ("9912311907093 본인 확인해 주세요", "rrn", "9912311907093"),
        ("주민번호가 210415-3847261인데요", "rrn", "210415-3847261"),
        ("주민번호 900101-1******로 조회해 주세요", "rrn", "900101-1******"),
        ("주민등록번호 구공공일공일 일이삼사오육칠", "rrn", "구공공일공일 일이삼사오육칠"),
        ("주민번호 뒷자리 1234567 불러드릴게요", "rrn", "1234567"),
        # foreigner registration numbers
        ("외국인등록번호 880808-5970394입니다", "foreigner_rrn", "880808-5970394"),
        ("910203-5123456 이 번호로 선불폰 개통했어요", "foreigner_rrn", "910203-5123456"),
        # phones: separators, +82, landlines, spoken (Sino-Korean and native), full-width
        ("연락처 01098765432로 문자 주세요", "phone", "01098765432"),
        ("해외 번호는 +82 10-5555-1234이에요", "phone", "+82 10-5555-1234"),
        ("(02) 555-1234 여기로 연락 부탁드려요", "phone", "(02) 555-1234"),
        ("사무실 번호는 031-789-1234이고요", "phone", "031-789-1234"),
        ("어머니 번호는 010.4321.8765 입니다", "phone", "010.4321.8765"),
        ("제 번호 공일공 이삼사오 육칠팔구요", "phone", "공일공 이삼사오 육칠팔구"),
        ("번호가 공일공 하나둘셋넷 다섯여섯일곱여덟이에요", "phone", "공일공 하나둘셋넷 다섯여섯일곱여덟"),
        ("제 폰번호 ０１０－２２２２－３３３３ 입니다", "phone", "０１０－２２２２－３３３３"),
        # cards (Luhn), including Amex grouping and spoken digits
        ("카드번호 4526-0181-5908-3012로 결제할게요", "card", "4526-0181-5908-3012"),
        ("아멕스 3719-482199-35187로 바꿔 주세요", "card", "3719-482199-35187"),
        ("체크카드 번호 9410960308246289예요", "card", "9410960308246289"),
        ("카드번호 사오이육 공일팔일 오구공팔 삼공일이요", "card", "사오이육 공일팔일 오구공팔 삼공일이"),
        # accounts with and without bank names
        ("환불은 국민은행 123456-01-234567로 부탁드려요", "account", "123456-01-234567"),
        ("110-345-678901 신한은행으로 보내주세요", "account", "110-345-678901"),
        ("계좌번호 12345601234567입니다", "account", "12345601234567"),
        ("카카오뱅크 3333-01-2345678", "account", "3333-01-2345678"),
        # e-mail, passport, driver's licence, IMEI
        ("이메일은 hong.gildong@naver.com입니다", "email", "hong.gildong@naver.com"),
        ("여권 번호는 M123A4567이에요", "passport", "M123A4567"),
        ("M70213456 이거 제 여권번호예요", "passport", "M70213456"),
        ("운전면허번호 11-12-345678-90입니다", "driver_license", "11-12-345678-90"),
        ("면허증 번호 서울 12-345678-90", "driver_license", "서울 12-345678-90"),
        ("IMEI 356563212233073입니다", "imei", "356563212233073"),
        ("imei 번호가 35-289078-666617-0", "imei", "35-289078-666617-0"),
    ],
)
def test_each_pii_type_is_found_with_exact_original_span(text: str, pii_type: str, value: str) -> None:
    assert _found(text) == [(pii_type, value)]


def test_split_registration_number_masks_both_halves() -> None:
    text = "앞자리 900101 뒷자리 1234567"
    assert _found(text) == [("rrn", "900101"), ("rrn", "1234567")]


def test_split_foreigner_number_is_typed_by_its_back_half() -> None:
    assert [t for t, _ in _found("등록증 앞자리 930105 뒷자리 5123456이요")] == ["foreigner_rrn", "foreigner_rrn"]


@pytest.mark.parametrize(
    "text",
    [
        "이번 달 요금이 89,000원 나왔어요",
        "데이터 12.5GB 남았나요?",
        "5G 프리미엄 89 요금제로 바꾸고 싶어요",
        "청구서 번호 B-2026-10-000123 확인 부탁드려요",
        "114에 전화했는데 연결이 안 돼요",
        "고객센터 1588-0114로 문의했어요",
        "080-123-4567 수신거부 번호로 문자가 와요",
        "갤럭시 SM-S928N 모델인데 와이파이가 안 잡혀요",
        "주문번호 20261129-000123 배송 조회요",
        "접수번호 2026-1129-0042 처리 상황 알려주세요",
        "2026-11-29 14:30에 방문 예약했어요",
        "2026년 11월 30일까지 납부하면 되나요?",
        "생년월일 1990-04-12요",
        "생일은 900412입니다",
        "사업자등록번호 123-45-67890 으로 법인폰 개통",
        "법인등록번호 110111-1234567 로 법인 명의 회선 조회",
        "송장번호 6012-3456-7890 확인 좀 해주세요",
        "주문번호 M20261129 취소요",
        "상품번호 2026112900123 문의",
        "뒷자리 1234인 번호요",
        "티켓 T-20261129-0042 상태 확인",
        "기기값 1,375,000원 할부 24개월",
        "IP 192.168.0.1 접속이 안 돼요",
        "이사 가서 주소 변경하려고요",
    ],
)
def test_hard_negatives_are_left_alone(text: str) -> None:
    assert detect(text) == []
    assert mask(text).masked == text


def test_card_number_failing_luhn_is_not_a_card_without_context() -> None:
    assert detect("4526-0181-5908-3013") == []
    assert _found("카드번호 4526-0181-5908-3013인데 결제가 안 돼요") == [("card", "4526-0181-5908-3013")]


def test_imei_context_decides_between_imei_and_card() -> None:
    assert _found("분실폰 IMEI 350928159013968 차단해 주세요") == [("imei", "350928159013968")]
    assert _found("아멕스 카드 371948219935187") == [("card", "371948219935187")]


def test_registration_number_with_bad_checksum_needs_separator_or_context() -> None:
    assert detect("9001011234560") == []  # 13 digits, no hyphen, no context, checksum fails
    assert _found("주민번호 9001011234560") == [("rrn", "9001011234560")]


def test_mask_replaces_spans_with_typed_korean_placeholders() -> None:
    text = "주민번호 9912311907093 번호 010 6767 8989 이메일 minsu.k@naver.com, 요금 89,000원"
    result = mask(text)
    assert result.masked == "주민번호 [주민등록번호] 번호 [전화번호] 이메일 [이메일], 요금 89,000원"
    assert [e.type for e in result.entities] == [PiiType.RRN, PiiType.PHONE, PiiType.EMAIL]


def test_offsets_point_into_original_text_with_full_width_and_spoken_digits() -> None:
    text = "ＡＢＣ 고객입니다!!! 번호는 공일공－일이삼사－오육칠팔이고 카드는 ４５２６ ０１８１ ５９０８ ３０１２요"
    ents = detect(text)
    assert [(e.type.value, text[e.start : e.end]) for e in ents] == [
        ("phone", "공일공－일이삼사－오육칠팔"),
        ("card", "４５２６ ０１８１ ５９０８ ３０１２"),
    ]
    assert mask(text).masked == "ＡＢＣ 고객입니다!!! 번호는 [전화번호]이고 카드는 [카드번호]요"


def test_every_type_has_a_placeholder() -> None:
    labels = {placeholder(t) for t in PiiType}
    assert len(labels) == len(PiiType)
    assert placeholder(PiiType.PHONE) == "[전화번호]" and placeholder(PiiType.RRN) == "[주민등록번호]"


def test_entity_rejects_empty_span() -> None:
    with pytest.raises(ValueError):
        Entity(type=PiiType.PHONE, start=3, end=3, score=0.9)


def test_empty_text_has_no_entities() -> None:
    assert detect("") == [] and mask("").masked == ""


def test_validators() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert rrn_checksum_ok("8503151408751") and not rrn_checksum_ok("8503151408752")
    assert foreigner_checksum_ok("8808085970394")
    assert rrn_birth_date("000229", "3") is not None and rrn_birth_date("010229", "3") is None


# --- issue 11 item 6: card security data, and numbers glued to Latin letters -----------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("카드 4190-9378-6579-7547, 유효기간 09/27, CVC 123이요",
         [("card", "4190-9378-6579-7547"), ("card_expiry", "09/27"), ("card_cvc", "123")]),
        ("신용카드 유효기간은 12/2028이고 cvv는 456입니다", [("card_expiry", "12/2028"), ("card_cvc", "456")]),
        ("카드 만료일 0829 보안코드 789", [("card_expiry", "0829"), ("card_cvc", "789")]),
        ("카드 뒷면 보안코드 세 자리는 321이에요", [("card_cvc", "321")]),
        ("CVC123 맞아요", [("card_cvc", "123")]),
        ("card exp 11/29 cvv2: 042", [("card_expiry", "11/29"), ("card_cvc", "042")]),
    ],
)
def test_card_expiry_and_security_code_are_masked_near_their_words(text: str, expected: list) -> None:
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "데이터 쿠폰 유효기간 12/31까지인가요?",  # no card in sight: a date
        "12/27에 카드로 납부했어요",  # a payment date, no expiry word
        "카드 결제일이 25일이고 123번 청구서요",  # no security-code word
        "보안코드 문자 인증번호 123456 왔어요",  # a one-time code, six digits
    ],
)
def test_dates_and_short_numbers_without_card_security_words_stay_readable(text: str) -> None:
    assert detect(text) == []


@pytest.mark.parametrize(
    ("text", "pii_type", "value"),
    [
        ("phone01012345678 로 연락 주세요", "phone", "01012345678"),
        ("연락처:mobile010-9000-0005입니다", "phone", "010-9000-0005"),
        ("계좌ABC110-123-456789로 환불해 주세요", "account", "110-123-456789"),
        ("card4111111111111111 결제 취소요", "card", "4111111111111111"),
        ("주민번호rrn8503151408751입니다", "rrn", "8503151408751"),
        ("IMEI356563212233073 분실 신고요", "imei", "356563212233073"),
    ],
)
def test_numbers_glued_to_latin_letters_are_still_found(text: str, pii_type: str, value: str) -> None:
    assert _found(text) == [(pii_type, value)]


@pytest.mark.parametrize(
    "text",
    [
        "주문번호 ORD01012345678 배송 조회요",  # an order number next to its word
        "모델 SM-S928N1234 펌웨어 문의",
        "시리얼 SN2026112912 확인해 주세요",
        # Sangdam's own record ids (random hex): "TR-63daf06370234416" once read as a 063 landline at rest
        '{"trace_id": "TR-63daf06370234416", "conversation_id": "CV-47757ce032b54c9a"}',
        "uuid 9f1c0b7e2d0630102345678a",
    ],
)
def test_identifiers_with_letters_are_not_glued_personal_data(text: str) -> None:
    assert detect(text) == []
