"""Demo and benchmark data: stores, products, customers, channel identities and orders, written in bulk.

The rows are exactly what the services would write (normalised kana, search keys computed by the
same functions as ``refresh_search_keys``, E.164 phones, lower-cased emails, ULID public ids,
Luhn-checked member numbers, order totals that satisfy the CHECK constraints), but they are
written with COPY on PostgreSQL and batched INSERTs elsewhere, not through ``create_customer`` /
``record_order``: no signals are sent, so no points are earned and no stock moves for seeded orders.

Everything random comes from one ``random.Random`` seeded with the seed and the first id the run
writes, so the same seed on an empty database gives the same rows (for the same day: dates are
relative to today), and a second run on a non-empty database does not repeat the first one's ids.
Ids are assigned from the tables' current maximum and the sequences moved past them afterwards,
so seed a database that nothing else is writing to at the same time.
"""

import hashlib
import logging
import random
import sys
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import accumulate

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max, Model
from django.utils import timezone
from tqdm import tqdm

from .models import ChannelIdentity, ConsentSource, Customer, Order, OrderLine, Product, SalesChannel, Store
from .normalize import normalize_kana, normalize_name
from .services import upsert_product

# --- Reference data ---------------------------------------------------------------------------
# (code, name, prefecture, address, phone, kind)
STORES = [
    ("TKY-SBY", "渋谷店", "東京都", "東京都渋谷区神南1-21-3", "03-3461-0101", Store.Kind.STORE),
    ("TKY-SJK", "新宿店", "東京都", "東京都新宿区新宿3-30-13", "03-3352-0202", Store.Kind.STORE),
    ("KNG-YKH", "横浜店", "神奈川県", "神奈川県横浜市西区南幸1-5-1", "045-311-0303", Store.Kind.STORE),
    ("STM-OMY", "大宮店", "埼玉県", "埼玉県さいたま市大宮区桜木町1-7-5", "048-641-0404", Store.Kind.STORE),
    ("OSK-UMD", "梅田店", "大阪府", "大阪府大阪市北区梅田3-1-1", "06-6345-0505", Store.Kind.STORE),
    ("KYT-KWR", "京都河原町店", "京都府", "京都府京都市下京区四条通河原町東入真町68", "075-223-0606", Store.Kind.STORE),
    ("HYG-SNM", "神戸三宮店", "兵庫県", "兵庫県神戸市中央区三宮町1-8-1", "078-391-0707", Store.Kind.STORE),
    ("AIC-SKE", "名古屋栄店", "愛知県", "愛知県名古屋市中区栄3-5-1", "052-261-0808", Store.Kind.STORE),
    ("FKO-TJN", "福岡天神店", "福岡県", "福岡県福岡市中央区天神2-11-1", "092-721-0909", Store.Kind.STORE),
    ("HKD-SPR", "札幌店", "北海道", "北海道札幌市中央区北5条西2-5", "011-209-1010", Store.Kind.STORE),
    ("EC-WH", "EC倉庫", "千葉県", "千葉県市川市塩浜2-13", "047-395-1111", Store.Kind.WAREHOUSE),
]
# Prefectures where the retailer's customers live, weighted by population with Kanto and Kansai
# (where its stores are) boosted: (prefecture, weight, nearest store, ((city, postal prefix), ...)).
PREFECTURES = [
    ("東京都", 210, "TKY-SBY", (("渋谷区", "150"), ("新宿区", "160"), ("世田谷区", "154"), ("杉並区", "166"),
                              ("練馬区", "176"), ("品川区", "141"), ("目黒区", "153"), ("大田区", "144"),
                              ("江東区", "135"), ("港区", "106"), ("八王子市", "192"), ("町田市", "194"),
                              ("武蔵野市", "180"))),
    ("神奈川県", 135, "KNG-YKH", (("横浜市青葉区", "225"), ("横浜市港北区", "222"), ("川崎市中原区", "211"),
                                ("相模原市", "252"), ("藤沢市", "251"), ("鎌倉市", "248"))),
    ("埼玉県", 100, "STM-OMY", (("さいたま市大宮区", "330"), ("川口市", "332"), ("所沢市", "359"), ("川越市", "350"))),
    ("千葉県", 90, "TKY-SJK", (("千葉市美浜区", "261"), ("船橋市", "273"), ("市川市", "272"), ("柏市", "277"),
                             ("浦安市", "279"))),
    ("茨城県", 15, "TKY-SJK", (("水戸市", "310"), ("つくば市", "305"))),
    ("栃木県", 10, "STM-OMY", (("宇都宮市", "320"),)),
    ("群馬県", 10, "STM-OMY", (("前橋市", "371"), ("高崎市", "370"))),
    ("大阪府", 120, "OSK-UMD", (("大阪市北区", "530"), ("大阪市中央区", "541"), ("堺市", "590"), ("豊中市", "560"),
                              ("吹田市", "564"), ("枚方市", "573"))),
    ("兵庫県", 65, "HYG-SNM", (("神戸市中央区", "650"), ("尼崎市", "660"), ("西宮市", "662"), ("姫路市", "670"))),
    ("京都府", 35, "KYT-KWR", (("京都市中京区", "604"), ("京都市左京区", "606"), ("宇治市", "611"))),
    ("奈良県", 12, "OSK-UMD", (("奈良市", "630"),)),
    ("滋賀県", 10, "KYT-KWR", (("大津市", "520"),)),
    ("和歌山県", 5, "OSK-UMD", (("和歌山市", "640"),)),
    ("愛知県", 55, "AIC-SKE", (("名古屋市中区", "460"), ("名古屋市千種区", "464"), ("豊田市", "471"),
                             ("岡崎市", "444"))),
    ("静岡県", 15, None, (("静岡市葵区", "420"), ("浜松市中央区", "430"))),
    ("岐阜県", 8, "AIC-SKE", (("岐阜市", "500"),)),
    ("三重県", 6, "AIC-SKE", (("津市", "514"),)),
    ("福岡県", 35, "FKO-TJN", (("福岡市中央区", "810"), ("福岡市博多区", "812"), ("北九州市小倉北区", "802"))),
    ("北海道", 30, "HKD-SPR", (("札幌市中央区", "060"), ("札幌市北区", "001"), ("旭川市", "070"))),
    ("宮城県", 12, None, (("仙台市青葉区", "980"),)),
    ("広島県", 12, None, (("広島市中区", "730"),)),
    ("新潟県", 6, None, (("新潟市中央区", "951"),)),
    ("長野県", 6, None, (("長野市", "380"), ("松本市", "390"))),
    ("岡山県", 6, None, (("岡山市北区", "700"),)),
    ("熊本県", 5, "FKO-TJN", (("熊本市中央区", "860"),)),
    ("石川県", 4, None, (("金沢市", "920"),)),
    ("沖縄県", 4, None, (("那覇市", "900"),)),
    ("鹿児島県", 4, "FKO-TJN", (("鹿児島市", "890"),)),
    ("福島県", 4, None, (("郡山市", "963"),)),
    ("山口県", 3, None, (("下関市", "750"),)),
    ("愛媛県", 3, None, (("松山市", "790"),)),
    ("香川県", 2, None, (("高松市", "760"),)),
    ("長崎県", 3, "FKO-TJN", (("長崎市", "850"),)),
    ("山梨県", 2, "TKY-SJK", (("甲府市", "400"),)),
]  # fmt: skip
TOWNS = (
    "本町", "中央", "栄町", "緑町", "旭町", "幸町", "東町", "西町", "南町", "北町", "桜木町", "若葉",
    "青葉台", "港南", "平和台", "新町", "元町", "大手町", "松原", "富士見",
)  # fmt: skip
BUILDINGS = ("ハイツ", "コーポ", "レジデンス", "パレス", "メゾン", "グランデ")
# Reserved example domains only: a campaign sent from a demo instance must never reach a real inbox.
EMAIL_DOMAINS = (
    ("example.jp", 40), ("example.com", 25), ("mail.example.jp", 15), ("mobile.example.jp", 10),
    ("example.net", 5), ("example.org", 5),
)  # fmt: skip
# category: (share of sales, (item, base price), ...)
CATEGORIES = {
    "outerwear": (14, (("ウールコート", 29900), ("ダウンジャケット", 24900), ("トレンチコート", 19900),
                       ("デニムジャケット", 9900), ("マウンテンパーカー", 12900))),
    "tops": (30, (("オックスフォードシャツ", 4990), ("クルーネックTシャツ", 1990), ("メリノニット", 5990),
                  ("カーディガン", 4990), ("スウェットパーカー", 3990), ("リネンシャツ", 3990))),
    "bottoms": (20, (("テーパードパンツ", 4990), ("ストレートデニム", 5990), ("チノパンツ", 3990),
                     ("プリーツスカート", 4990), ("ワイドパンツ", 4990))),
    "shoes": (12, (("レザースニーカー", 12900), ("ローファー", 14900), ("サイドゴアブーツ", 16900),
                   ("スポーツサンダル", 5990))),
    "bags": (9, (("キャンバストート", 3990), ("デイパック", 7990), ("ショルダーバッグ", 6990))),
    "accessories": (15, (("ウールマフラー", 2990), ("キャップ", 1990), ("レザーベルト", 3990),
                         ("ニット手袋", 1990), ("ソックス3足組", 990))),
}  # fmt: skip
BRANDS = (("TSUNAGU BASICS", "TB", 1.0), ("KAZE", "KZ", 1.3), ("HINODE WORKS", "HW", 1.6), ("MORI & SONS", "MS", 2.2))
COLOURS = (
    ("ネイビー", "NV"),
    ("ブラック", "BK"),
    ("グレー", "GY"),
    ("ベージュ", "BE"),
    ("オリーブ", "OL"),
    ("ホワイト", "WH"),
)

CUSTOMER_YEARS = 5  # customers joined over the last five years
ORDER_DAYS = 730  # orders over the last two years

CUSTOMER_COLUMNS = (
    "id", "public_id", "member_number", "family_name", "given_name", "family_name_kana", "given_name_kana",
    "email", "phone", "birth_date", "postal_code", "prefecture", "address", "home_store_id",
    "email_opt_in", "email_opt_in_at", "email_opt_in_source", "sms_opt_in", "sms_opt_in_at", "sms_opt_in_source",
    "merged_into_id", "search_name", "search_kana", "created_at", "updated_at",
)  # fmt: skip
IDENTITY_COLUMNS = ("id", "customer_id", "channel", "external_id", "created_at")
ORDER_COLUMNS = (
    "id", "public_id", "source", "external_ref", "channel", "store_id", "fulfilled_from_id", "customer_id",
    "ordered_at", "subtotal", "points_redeemed", "total", "points_earned", "returned_amount", "status", "created_at",
)  # fmt: skip
ORDER_LINE_COLUMNS = (
    "id", "order_id", "line_number", "product_id", "sku", "quantity", "unit_price", "amount", "returned_quantity",
)  # fmt: skip


# --- Ids --------------------------------------------------------------------------------------
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [_CROCKFORD[i >> 5] + _CROCKFORD[i & 31] for i in range(1024)]


def ulid_string(ms: int, randomness: int) -> str:
    """The canonical 26-character ULID for a millisecond timestamp and 80 random bits (what
    ``str(ulid.ULID)`` prints), ten bits at a time: a million ids take about a second."""
    value = (ms << 80) | randomness
    p = _PAIRS
    return (
        p[value >> 120] + p[(value >> 110) & 1023] + p[(value >> 100) & 1023] + p[(value >> 90) & 1023]
        + p[(value >> 80) & 1023] + p[(value >> 70) & 1023] + p[(value >> 60) & 1023] + p[(value >> 50) & 1023]
        + p[(value >> 40) & 1023] + p[(value >> 30) & 1023] + p[(value >> 20) & 1023] + p[(value >> 10) & 1023]
        + p[value & 1023]
    )  # fmt: skip


def _luhn_table() -> list[int]:
    """Luhn sums of every four-digit group whose last digit sits at an even position from the right."""
    table = []
    for n in range(10000):
        total = 0
        for i, ch in enumerate(reversed(f"{n:04d}")):
            d = int(ch)
            if i % 2 == 0:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        table.append(total)
    return table


_LUHN = _luhn_table()
_MEMBER_SPACE = 9 * 10**10  # 11-digit bodies, as crm.ids.new_member_number draws them
_MEMBER_STEP = 7_919_861_393  # coprime with the space, so id -> number is one-to-one
_MEMBER_OFFSET = 31_415_926_535


def member_number_for(n: int) -> str:
    """A 12-digit card number (Luhn check digit last, as crm.ids.new_member_number) that is unique
    for each n: a fixed permutation of the 11-digit bodies, so bulk seeding never collides."""
    body = 10**10 + (n * _MEMBER_STEP + _MEMBER_OFFSET) % _MEMBER_SPACE
    total = _LUHN[body % 10000] + _LUHN[(body // 10000) % 10000] + _LUHN[body // 10**8]
    return f"{body}{(10 - total % 10) % 10}"


_MOBILE_PREFIXES = ("+8190", "+8180", "+8170")
_MOBILE_BLOCK = 9 * 10**7  # a subscriber number: a digit 1-9, then seven digits
_PHONE_STEP = 104_729
_PHONE_OFFSET = 12_345_678


def mobile_phone_for(n: int) -> str:
    """A valid Japanese mobile number in E.164 (+8190/+8180/+8170...), different for each n below 270 million."""
    index = (n * _PHONE_STEP + _PHONE_OFFSET) % (3 * _MOBILE_BLOCK)
    block, rest = divmod(index, _MOBILE_BLOCK)
    return f"{_MOBILE_PREFIXES[block]}{10**7 + rest}"


# --- Names ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Name:
    family: str
    given: str
    family_kana: str
    given_kana: str
    search_name: str
    search_kana: str
    romaji: tuple[str, str]


class NamePool:
    """Every (family, given) pair from Faker's ja_JP tables, read once, with the search keys of
    each pair computed by the same functions as refresh_search_keys."""

    def __init__(self):
        from faker.providers.person.ja_JP import Provider

        families = list(Provider.last_name_pairs.items())
        givens = list(Provider.first_name_pairs)
        self.names = [
            Name(
                family=f[0],
                given=g[0],
                family_kana=normalize_kana(f[1]),
                given_kana=normalize_kana(g[1]),
                search_name=normalize_name(f[0] + g[0]),
                search_kana=normalize_kana(normalize_kana(f[1]) + normalize_kana(g[1])),
                romaji=(f[2].lower(), g[2].lower()),
            )
            for (f, _weight) in families
            for g in givens
        ]
        # Family names weighted by how common they are in Japan, given names uniform.
        weights = [float(w) for (_f, w) in families for _g in givens]
        self.cum_weights = list(accumulate(weights))

    def sample(self, rng: random.Random, k: int) -> list[Name]:
        return rng.choices(self.names, cum_weights=self.cum_weights, k=k)


def _weighted(items):
    values = [item[0] for item in items]
    return values, list(accumulate(item[1] for item in items))


# --- Customers --------------------------------------------------------------------------------
@dataclass
class CustomerBatch:
    """What one batch of generation produced: customer rows, and the identities of those customers."""

    customers: list[tuple]
    identities: list[tuple] = field(default_factory=list)


class CustomerGenerator:
    """Customer rows (CUSTOMER_COLUMNS order) for ids start_id, start_id+1, ..., created over the
    last five years in id order, with a few deliberate duplicates (same email or same phone)."""

    def __init__(self, *, count: int, start_id: int, seed: int, store_ids: dict[str, int], anchor: datetime,
                 start_identity_id: int = 1, taken_member_numbers: frozenset = frozenset()):  # fmt: skip
        self.count = count
        self.start_id = start_id
        self.rng = random.Random(f"customers:{seed}:{start_id}")
        self.seed = seed
        self.store_ids = store_ids
        self.anchor = anchor
        self.next_identity_id = start_identity_id
        self.taken = taken_member_numbers
        self.names = NamePool()
        self.prefectures, self.prefecture_cum = _weighted([(p, w) for p, w, *_ in PREFECTURES])
        self.prefecture_info = {p: (store, cities) for p, _w, store, cities in PREFECTURES}
        self.domains, self.domain_cum = _weighted(EMAIL_DOMAINS)
        self.physical_stores = [sid for code, sid in store_ids.items() if code != "EC-WH"]
        # Deliberate duplicates, spread over the run: the same person registered twice.
        n_duplicates = max(2, count // 400) if count >= 4 else 0
        self.duplicates = {
            (j + 1) * count // (n_duplicates + 1): ("email" if j % 2 == 0 else "phone") for j in range(n_duplicates)
        }

    def batches(self, size: int = 5000) -> Iterator[CustomerBatch]:
        start_ts = (self.anchor - timedelta(days=365 * CUSTOMER_YEARS)).timestamp()
        step = (self.anchor.timestamp() - start_ts) / max(self.count, 1)
        for offset in range(0, self.count, size):
            yield self._batch(offset, min(size, self.count - offset), start_ts, step)

    def _batch(self, offset: int, size: int, start_ts: float, step: float) -> CustomerBatch:
        rng = self.rng
        rand = rng.random
        names = self.names.sample(rng, size)
        prefectures = rng.choices(self.prefectures, cum_weights=self.prefecture_cum, k=size)
        domains = rng.choices(self.domains, cum_weights=self.domain_cum, k=size)
        batch = CustomerBatch(customers=[])
        rows = batch.customers
        today = self.anchor.date()
        for i in range(size):
            index = offset + i
            pk = self.start_id + index
            name = names[i]
            prefecture = prefectures[i]
            nearest, cities = self.prefecture_info[prefecture]
            city, postal = cities[int(rand() * len(cities))]
            created_ts = start_ts + (index + rand() * 0.9) * step
            created_at = datetime.fromtimestamp(created_ts, tz=UTC)
            r = rand()
            source = ConsentSource.STORE if r < 0.5 else ConsentSource.EC if r < 0.85 else ConsentSource.APP
            nearest_id = self.store_ids.get(nearest)
            if source == ConsentSource.STORE:
                home_store = nearest_id or self.physical_stores[int(rand() * len(self.physical_stores))]
            else:
                home_store = nearest_id if rand() < 0.3 else None

            member_number = member_number_for(pk)
            if member_number in self.taken:  # only when the database already holds other customers
                member_number = member_number_for(pk + _MEMBER_SPACE // 2)
            family_romaji, given_romaji = name.romaji
            if rand() < 0.9:
                style = int(rand() * 3)
                local = (
                    f"{given_romaji}.{family_romaji}{pk}" if style == 0
                    else f"{family_romaji}_{given_romaji}{pk}" if style == 1
                    else f"{given_romaji[0]}{family_romaji}{pk}"
                )  # fmt: skip
                email = f"{local}@{domains[i]}"
            else:
                email = ""
            phone = mobile_phone_for(pk) if rand() < 0.92 else ""
            if rand() < 0.92:
                age_days = int((18 + rand() * 62) * 365.25)
                birth_date = today - timedelta(days=age_days)
            else:
                birth_date = None
            town = TOWNS[int(rand() * len(TOWNS))]
            address = f"{prefecture}{city}{town}{1 + int(rand() * 5)}-{1 + int(rand() * 30)}-{1 + int(rand() * 20)}"
            if rand() < 0.3:
                address += (
                    f" {town}{BUILDINGS[int(rand() * len(BUILDINGS))]}{int(rand() * 9) + 1}0{int(rand() * 9) + 1}"
                )
            postal_code = f"{postal}-{int(rand() * 10000):04d}"

            email_opt_in = bool(email) and rand() < 0.6
            sms_opt_in = bool(phone) and rand() < 0.3
            consent_at = datetime.fromtimestamp(created_ts + rand() * 60, tz=UTC)
            updated_at = consent_at if (email_opt_in or sms_opt_in) else created_at

            family, given, family_kana, given_kana = name.family, name.given, name.family_kana, name.given_kana
            search_name, search_kana = name.search_name, name.search_kana
            duplicate = self.duplicates.get(index)
            original = self._original_of(rows, 7 if duplicate == "email" else 8) if duplicate else None
            if original is not None:
                # The same person again, from another channel: same name and birth date, same email or phone.
                family, given, family_kana, given_kana = original[3:7]
                search_name, search_kana, birth_date = original[21], original[22], original[9]
                if duplicate == "email":
                    email = original[7]
                else:
                    phone = original[8]
            rows.append((
                pk, f"cus_{ulid_string(int(created_ts * 1000), rng.getrandbits(80))}", member_number,
                family, given, family_kana, given_kana, email, phone, birth_date, postal_code, prefecture, address,
                home_store,
                email_opt_in, consent_at if email_opt_in else None, source if email_opt_in else "",
                sms_opt_in, consent_at if sms_opt_in else None, source if sms_opt_in else "",
                None, search_name, search_kana, created_at, updated_at,
            ))  # fmt: skip
            self._identities(batch.identities, pk, source, created_ts)
        return batch

    def _original_of(self, rows: list[tuple], column: int) -> tuple | None:
        for _attempt in range(20):
            if not rows:
                return None
            row = rows[int(self.rng.random() * len(rows))]
            if row[column]:
                return row
        return None

    def _identities(self, out: list, customer_id: int, source: str, created_ts: float) -> None:
        rand = self.rng.random
        channels = []
        if source == ConsentSource.EC or (source == ConsentSource.STORE and rand() < 0.2):
            channels.append(("ec", f"EC{customer_id:09d}"))
        if source == ConsentSource.APP or rand() < 0.1:
            digest = hashlib.blake2b(f"app:{self.seed}:{customer_id}".encode(), digest_size=16).hexdigest()
            channels.append(("app", f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:]}"))
        if rand() < 0.15:
            digest = hashlib.blake2b(f"line:{self.seed}:{customer_id}".encode(), digest_size=16).hexdigest()
            channels.append(("line", f"U{digest}"))
        for channel, external_id in channels:
            at = datetime.fromtimestamp(created_ts + rand() * 3600, tz=UTC)
            out.append((self.next_identity_id, customer_id, channel, external_id, at))
            self.next_identity_id += 1


# --- Orders -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Buyer:
    id: int
    created_at: datetime
    home_store_id: int | None


def generate_orders(
    *,
    count: int,
    start_id: int,
    start_line_id: int,
    seed: int,
    buyers: list[Buyer],
    stores: list[Store],
    products: list[Product],
    anchor: datetime,
) -> tuple[list[tuple], list[tuple]]:
    """Order and order-line rows (ORDER_COLUMNS, ORDER_LINE_COLUMNS) over the last two years, in
    time order. Totals satisfy the CHECK constraints; no points are redeemed or earned because
    seeded orders bypass loyalty (no ledger would back them)."""
    rng = random.Random(f"orders:{seed}:{start_id}")
    rand = rng.random
    physical = [s for s in stores if s.kind == Store.Kind.STORE]
    warehouse = next((s for s in stores if s.kind == Store.Kind.WAREHOUSE), physical[0] if physical else None)
    if warehouse is None or not products:
        return [], []
    by_category: dict[str, list[Product]] = {}
    for product in products:
        by_category.setdefault(product.category, []).append(product)
    categories = sorted(by_category)
    category_cum = list(accumulate(CATEGORIES.get(c, (10,))[0] for c in categories))
    since = anchor - timedelta(days=ORDER_DAYS)
    # A few loyal customers buy often, most buy now and then: a skewed pick over the buyers.
    drafts = []
    for _ in range(count):
        buyer = buyers[int(len(buyers) * rand() ** 2.5)] if buyers and rand() < 0.85 else None
        r = rand()
        channel = SalesChannel.STORE if r < 0.6 else SalesChannel.EC if r < 0.9 else SalesChannel.APP
        if buyer is None and channel != SalesChannel.STORE:
            channel = SalesChannel.STORE  # EC and app orders come from members
        earliest = max(since, buyer.created_at) if buyer else since
        span = (anchor - earliest).total_seconds()
        ordered_at = earliest + timedelta(seconds=rand() * span)
        drafts.append((ordered_at, channel, buyer))
    drafts.sort(key=lambda d: d[0])

    orders, lines = [], []
    line_id = start_line_id
    store_by_id = {s.pk: s for s in physical}
    for n, (ordered_at, channel, buyer) in enumerate(drafts):
        pk = start_id + n
        if channel == SalesChannel.STORE:
            store = store_by_id.get(buyer.home_store_id) if buyer and rand() < 0.8 else None
            store = store or physical[int(rand() * len(physical))]
            source, external_ref = "pos", f"{store.code}-{timezone.localtime(ordered_at):%Y%m%d}-{pk:08d}"
        else:
            store = warehouse
            source = "ec-site" if channel == SalesChannel.EC else "app"
            external_ref = f"{'EC' if channel == SalesChannel.EC else 'AP'}{pk:010d}"
        subtotal = 0
        n_lines = 1 + int(rand() ** 2 * 4)
        for line_number in range(1, n_lines + 1):
            category = categories[bisect(category_cum, rand() * category_cum[-1])]
            options = by_category[category]
            product = options[int(rand() * len(options))]
            quantity = 1 if rand() < 0.85 else 2 + int(rand() * 2)
            unit_price = product.price
            if rand() < 0.2:  # on sale: 10-30% off, in 10-yen steps
                unit_price = unit_price * (70 + int(rand() * 21)) // 1000 * 10
            amount = quantity * unit_price
            subtotal += amount
            lines.append((line_id, pk, line_number, product.pk, product.sku, quantity, unit_price, amount, 0))
            line_id += 1
        created_at = ordered_at + timedelta(seconds=1 + int(rand() * 120))
        orders.append((
            pk, f"ord_{ulid_string(int(ordered_at.timestamp() * 1000), rng.getrandbits(80))}", source, external_ref,
            channel, store.pk, None, buyer.id if buyer else None, ordered_at, subtotal, 0, subtotal, 0, 0,
            Order.Status.COMPLETED, created_at,
        ))  # fmt: skip
    return orders, lines


# --- Writing ----------------------------------------------------------------------------------
def next_id(model: type[Model]) -> int:
    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1


def write_rows(model: type[Model], columns: tuple[str, ...], rows: Iterable[tuple], *,
               progress: Callable[[int], None] | None = None, batch_size: int = 5000) -> int:  # fmt: skip
    """Insert rows (tuples in `columns` order): COPY on PostgreSQL, batched INSERTs elsewhere.
    `rows` may be an iterable of tuples or of lists of tuples (batches). Returns the row count."""
    table = model._meta.db_table
    written = 0
    if connection.vendor == "postgresql":
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            pg = cursor.connection
            with (
                pg.cursor() as pg_cursor,
                pg_cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy,
            ):
                for chunk in _chunks(rows, batch_size):
                    for row in chunk:
                        copy.write_row(row)
                    written += len(chunk)
                    if progress:
                        progress(len(chunk))
        return written
    # bulk_create would stamp created_at/updated_at with now() (auto_now_add); the seeded history
    # needs its own timestamps, so the rows go in as batched INSERTs with the backend's adapters.
    fields = {f.column: f for f in model._meta.concrete_fields}
    adapters = []
    for column in columns:
        kind = fields[column].get_internal_type()
        if kind == "DateTimeField":
            adapters.append(connection.ops.adapt_datetimefield_value)
        elif kind == "DateField":
            adapters.append(connection.ops.adapt_datefield_value)
        else:
            adapters.append(None)
    convert = [(i, a) for i, a in enumerate(adapters) if a is not None]
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 -- quoted identifiers; values are parameters
        connection.ops.quote_name(table),
        ", ".join(connection.ops.quote_name(c) for c in columns),
        ", ".join(["%s"] * len(columns)),
    )
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, batch_size):
            prepared = []
            for row in chunk:
                row = list(row)
                for i, adapt in convert:
                    if row[i] is not None:
                        row[i] = adapt(row[i])
                prepared.append(row)
            cursor.executemany(sql, prepared)
            written += len(chunk)
            if progress:
                progress(len(chunk))
    return written


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in rows:
        if isinstance(item, list):
            if chunk:
                yield chunk
                chunk = []
            yield item
            continue
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def reset_sequences(models: list[type[Model]]) -> None:
    """Rows were written with explicit ids: move the id sequences past them."""
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def analyze(models: list[type[Model]]) -> None:
    """Fresh planner statistics after a bulk load, so the first searches get good plans."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models))


# --- Phases -----------------------------------------------------------------------------------
def anchor_time() -> datetime:
    """Seeded history ends at the start of today (Asia/Tokyo), so one seed gives one data set per day."""
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def _bar(desc: str, total: int, quiet: bool):
    return tqdm(total=total, desc=desc, unit=" rows", file=sys.stderr, disable=quiet, dynamic_ncols=True)


def seed_stores() -> list[Store]:
    existing = set(Store.objects.filter(code__in=[s[0] for s in STORES]).values_list("code", flat=True))
    Store.objects.bulk_create(
        Store(code=code, name=name, prefecture=prefecture, address=address, phone=phone, kind=kind)
        for code, name, prefecture, address, phone, kind in STORES
        if code not in existing
    )
    return list(Store.objects.filter(code__in=[s[0] for s in STORES]).order_by("pk"))


def catalogue() -> list[dict]:
    """The demo catalogue: about 200 products, the same on every run (it does not depend on the seed)."""
    rng = random.Random("catalogue")
    products = []
    for category, (_share, items) in CATEGORIES.items():
        for item_number, (item, base_price) in enumerate(items, start=1):
            for brand, brand_code, factor in BRANDS:
                for colour, colour_code in rng.sample(COLOURS, 2):
                    price = int(base_price * factor) // 1000 * 1000 + 990  # prices end in 990 yen
                    products.append({
                        "sku": f"{brand_code}-{category[:3].upper()}{item_number:02d}-{colour_code}",
                        "name": f"{brand} {item} {colour}", "category": category, "brand": brand, "price": price,
                    })  # fmt: skip
    return products


def seed_products() -> list[Product]:
    """The catalogue through the catalog service (products the database has already are left alone)."""
    wanted = catalogue()
    existing = set(Product.objects.filter(sku__in=[p["sku"] for p in wanted]).values_list("sku", flat=True))
    catalog_log = logging.getLogger("crm.services.catalog")
    level = catalog_log.level
    catalog_log.setLevel(logging.WARNING)  # one "product created" line per demo product is noise
    try:
        for product in wanted:
            if product["sku"] not in existing:
                upsert_product(**product)
    finally:
        catalog_log.setLevel(level)
    return list(Product.objects.filter(sku__in=[p["sku"] for p in wanted]).order_by("pk"))


def seed_customers(*, count: int, seed: int, stores: list[Store], quiet: bool = False) -> tuple[int, list[tuple]]:
    """The customer phase: generate and write `count` customers. Returns (rows written, identity rows)."""
    if count <= 0:
        return 0, []
    start_id = next_id(Customer)
    taken = frozenset()
    if start_id > 1:
        taken = frozenset(Customer.objects.values_list("member_number", flat=True))
    generator = CustomerGenerator(
        count=count, start_id=start_id, seed=seed, store_ids={s.code: s.pk for s in stores},
        anchor=anchor_time(), start_identity_id=next_id(ChannelIdentity), taken_member_numbers=taken,
    )  # fmt: skip
    identities: list[tuple] = []

    def rows():
        for batch in generator.batches():
            identities.extend(batch.identities)
            yield batch.customers

    with _bar("customers", count, quiet) as bar:
        written = write_rows(Customer, CUSTOMER_COLUMNS, rows(), progress=bar.update)
    return written, identities


def seed_identities(identities: list[tuple], *, quiet: bool = False) -> int:
    with _bar("identities", len(identities), quiet) as bar:
        return write_rows(ChannelIdentity, IDENTITY_COLUMNS, identities, progress=bar.update)


def seed_orders(*, count: int, seed: int, stores: list[Store], products: list[Product], quiet: bool = False) -> int:
    if count <= 0:
        return 0
    buyers = [
        Buyer(pk, created_at, home_store_id)
        for pk, created_at, home_store_id in Customer.objects.filter(merged_into__isnull=True)
        .order_by("pk")
        .values_list("pk", "created_at", "home_store_id")
        .iterator(chunk_size=10000)
    ]
    orders, lines = generate_orders(
        count=count, start_id=next_id(Order), start_line_id=next_id(OrderLine), seed=seed, buyers=buyers,
        stores=stores, products=products, anchor=anchor_time(),
    )  # fmt: skip
    with _bar("orders", len(orders), quiet) as bar:
        written = write_rows(Order, ORDER_COLUMNS, orders, progress=bar.update)
    with _bar("order lines", len(lines), quiet) as bar:
        write_rows(OrderLine, ORDER_LINE_COLUMNS, lines, progress=bar.update)
    return written


@dataclass(frozen=True)
class SeedResult:
    stores: int
    products: int
    customers: int
    identities: int
    orders: int


def seed_demo_data(*, customers: int, orders: int, seed: int, quiet: bool = False) -> SeedResult:
    """Stores, the catalogue, customers with identities and orders, in one transaction."""
    with transaction.atomic():
        stores = seed_stores()
        products = seed_products()
        n_customers, identities = seed_customers(count=customers, seed=seed, stores=stores, quiet=quiet)
        n_identities = seed_identities(identities, quiet=quiet)
        n_orders = seed_orders(count=orders, seed=seed, stores=stores, products=products, quiet=quiet)
        reset_sequences([Customer, ChannelIdentity, Order, OrderLine])
    analyze([Customer, ChannelIdentity, Order, OrderLine])
    return SeedResult(len(stores), len(products), n_customers, n_identities, n_orders)
