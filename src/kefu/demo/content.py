"""What demo customers write and what demo agents answer, in zh-CN and en.

Texts are templates with `{placeholders}` filled by `ticket_facts`, so every ticket carries
its own amounts, networks and well-formed (but fake) transaction hashes and addresses.
Kept apart from `seed.py` so the wording can be edited without reading the seeding logic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from kefu.tickets.models import Category, Priority

ZH = "zh-CN"
EN = "en"

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

# (asset, network): the pairs a customer of a typical exchange actually uses.
ASSET_NETWORKS: tuple[tuple[str, str], ...] = (
    ("USDT", "TRC20"),
    ("USDT", "TRC20"),
    ("USDT", "ERC20"),
    ("USDT", "BEP20"),
    ("BTC", "Bitcoin"),
    ("BTC", "Bitcoin"),
    ("ETH", "ERC20"),
    ("USDC", "Solana"),
    ("SOL", "Solana"),
)

# Perpetual contracts and a plausible mark price around which liquidations happen.
PERPETUALS: tuple[tuple[str, Decimal], ...] = (
    ("BTCUSDT", Decimal("91250")),
    ("ETHUSDT", Decimal("3040")),
    ("SOLUSDT", Decimal("142.5")),
)

CITIES_ZH = ("莫斯科", "拉各斯", "圣保罗", "河内", "基辅", "阿姆斯特丹")
CITIES_EN = ("Moscow", "Lagos", "São Paulo", "Hanoi", "Kyiv", "Amsterdam")
PHONE_MODELS = ("iPhone 15 Pro", "Xiaomi 14", "Samsung Galaxy S24", "Huawei Mate 60", "Pixel 8")


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def _from(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def tx_hash(rng: random.Random, network: str) -> str:
    """A transaction id shaped like the network's own (fake, so it resolves nowhere)."""
    if network in ("ERC20", "BEP20"):
        return "0x" + _hex(rng, 64)
    if network == "Solana":
        return _from(rng, _BASE58, 88)
    return _hex(rng, 64)  # Bitcoin and TRON print bare hex


def address(rng: random.Random, network: str) -> str:
    if network in ("ERC20", "BEP20"):
        return "0x" + _hex(rng, 40)
    if network == "TRC20":
        return "T" + _from(rng, _BASE58, 33)
    if network == "Solana":
        return _from(rng, _BASE58, 44)
    return "bc1q" + _from(rng, _BECH32, 38)


def amount(rng: random.Random, asset: str) -> str:
    """An amount the way people type it: stablecoins in cents, coins in a few decimals."""
    if asset in ("USDT", "USDC"):
        value = Decimal(rng.choice((50, 120, 300, 500, 1000, 2500, 5000, 12000, 48000)))
        value += Decimal(rng.randint(0, 99)) / 100
        return str(value.quantize(Decimal("0.01")))
    if asset == "BTC":
        return str((Decimal(rng.randint(5, 1500)) / 10000).quantize(Decimal("0.0001")))
    if asset == "ETH":
        return str((Decimal(rng.randint(5, 400)) / 100).quantize(Decimal("0.01")))
    return str((Decimal(rng.randint(10, 2000)) / 10).quantize(Decimal("0.1")))


def short(value: str) -> str:
    return f"{value[:6]}…{value[-4:]}"


def ticket_facts(rng: random.Random) -> dict[str, str]:
    """One coherent set of values for a ticket's placeholders."""
    asset, network = rng.choice(ASSET_NETWORKS)
    symbol, mark = rng.choice(PERPETUALS)
    leverage = rng.choice((10, 20, 25, 50, 75, 100))
    liquidation = mark * (1 - Decimal(rng.randint(5, 40)) / 1000)
    low = liquidation * (1 + Decimal(rng.randint(2, 30)) / 1000)
    txid = tx_hash(rng, network)
    return {
        "asset": asset,
        "network": network,
        "amount": amount(rng, asset),
        "txid": txid,
        "txid_short": short(txid),
        "address": address(rng, network),
        "hours": str(rng.choice((2, 3, 5, 6, 8, 12, 20, 30))),
        "days": str(rng.choice((2, 3, 4, 5, 7))),
        "tries": str(rng.choice((3, 5, 6))),
        "symbol": symbol,
        "leverage": str(leverage),
        "liq_price": str(liquidation.quantize(Decimal("0.1"))),
        "low_price": str(low.quantize(Decimal("0.1"))),
        "order_id": str(rng.randint(10**17, 10**18 - 1)),
        "ip": f"{rng.randint(31, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
        f"{rng.randint(1, 254)}",
        "city_zh": rng.choice(CITIES_ZH),
        "city_en": rng.choice(CITIES_EN),
        "phone_model": rng.choice(PHONE_MODELS),
        "confirmations": str(rng.randint(1, 5)),
        "required": str(rng.choice((12, 19, 20, 64))),
        "time": f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        "fee": str((Decimal(rng.randint(5, 90)) / 100).quantize(Decimal("0.01"))),
    }


@dataclass(frozen=True)
class TicketTemplate:
    """An opening message: the subject and first words of a customer about one problem."""

    category: Category
    language: str
    subject: str
    body: str
    priority: Priority = Priority.NORMAL
    asset_related: bool = False
    tags: tuple[str, ...] = ()


def _t(
    category: Category,
    language: str,
    subject: str,
    body: str,
    *,
    priority: Priority = Priority.NORMAL,
    asset_related: bool = False,
    tags: tuple[str, ...] = (),
) -> TicketTemplate:
    return TicketTemplate(category, language, subject, body, priority, asset_related, tags)


C = Category
TEMPLATES: tuple[TicketTemplate, ...] = (
    # --- zh-CN -------------------------------------------------------------------------------
    _t(
        C.ACCOUNT,
        ZH,
        "登录一直提示密码错误，账户被锁",
        "您好，我确定密码没有输错，但是登录时一直提示“密码错误”，试了{tries}次以后账户被锁定了。"
        "请问怎么解锁？",
        tags=("login",),
    ),
    _t(
        C.ACCOUNT,
        ZH,
        "换手机后谷歌验证器丢失，无法登录",
        "换了新手机（{phone_model}），谷歌验证器没有备份，现在登录要输入二次验证码，"
        "请问怎么重置2FA？",
        tags=("2fa",),
    ),
    _t(
        C.KYC,
        ZH,
        "KYC审核多久？",
        "我{days}天前提交了身份认证（护照+人脸识别），到现在还显示“审核中”。"
        "一般需要多久？现在提现额度受限，比较着急。",
        tags=("kyc-pending",),
    ),
    _t(
        C.KYC,
        ZH,
        "身份认证被拒绝，原因不明",
        "身份认证被拒绝了，只提示“资料不符合要求”。我上传的是清晰的身份证正反面照片，"
        "请告诉我具体是哪里有问题。",
        tags=("kyc-rejected",),
    ),
    _t(
        C.DEPOSIT,
        ZH,
        "充值{asset}未到账 {network}",
        "{hours}小时前从其他平台充值了 {amount} {asset}（{network}网络），区块浏览器显示已成功，"
        "但账户里一直没有到账。\nTxID: {txid}",
        priority=Priority.HIGH,
        tags=("deposit-missing",),
    ),
    _t(
        C.DEPOSIT,
        ZH,
        "充错网络了，{asset}能找回吗",
        "我把 {amount} {asset} 用{network}网络充到了你们的地址，后来发现充值页面选的是另一个网络，"
        "请问能找回吗？\nTxID: {txid}",
        tags=("wrong-network",),
    ),
    _t(
        C.WITHDRAWAL,
        ZH,
        "提现一直处理中",
        "提现 {amount} {asset} 到 {address}（{network}）已经{hours}个小时了，状态一直是“处理中”，"
        "请问什么时候能到账？",
        tags=("withdrawal-pending",),
    ),
    _t(
        C.WITHDRAWAL,
        ZH,
        "改密码后不能提现？",
        "昨天重置了登录密码，今天提现提示“安全限制，24小时内不可提现”，能否提前解除？"
        "我有一笔 {amount} {asset} 急着用。",
        tags=("withdrawal-lock",),
    ),
    _t(
        C.WITHDRAWAL,
        ZH,
        "提现地址填错了，能追回吗",
        "我把 {amount} {asset} 提到了一个错误的地址 {address}（{network}），"
        "TxID {txid}，请问还能追回吗？",
        priority=Priority.HIGH,
        asset_related=True,
        tags=("wrong-address",),
    ),
    _t(
        C.TRADING,
        ZH,
        "限价单价格到了没有成交",
        "我挂的 {symbol} 限价单，价格已经到了但是没有成交，订单号 {order_id}，请帮忙查一下。",
        tags=("order",),
    ),
    _t(
        C.TRADING,
        ZH,
        "手续费比费率说明多扣了",
        "现货成交后扣的手续费是 {fee}%，比费率页面写的高，我是VIP等级，请核实。",
        tags=("fees",),
    ),
    _t(
        C.FUTURES,
        ZH,
        "合约被强平了，价格根本没到",
        "我的 {symbol} 永续合约 {leverage} 倍多单在 {time} 被强平，强平价 {liq_price}，"
        "但是K线最低只到 {low_price}，价格根本没到！要求给出解释并赔偿。",
        priority=Priority.HIGH,
        tags=("liquidation",),
    ),
    _t(
        C.FUTURES,
        ZH,
        "资金费率扣了两次",
        "{symbol} 永续合约在同一个结算时间点扣了两次资金费，请核实并退回。",
        tags=("funding",),
    ),
    _t(
        C.SECURITY,
        ZH,
        "账户被盗，有陌生登录",
        "刚收到邮件提醒，有来自{city_zh}（IP {ip}）的登录，不是我本人！"
        "我的 {asset} 余额少了 {amount}，请立刻冻结我的账户！",
        priority=Priority.URGENT,
        asset_related=True,
        tags=("account-takeover",),
    ),
    _t(
        C.SECURITY,
        ZH,
        "收到可疑邮件，让我点链接验证账户",
        "收到一封自称官方的邮件，说账户异常要求点击链接重新验证，这是你们发的吗？"
        "我已经点开了链接但没有输入密码。",
        tags=("phishing",),
    ),
    _t(
        C.SECURITY,
        ZH,
        "API密钥被陌生IP调用",
        "我的API管理里看到有来自 {ip} 的调用，不是我的服务器，已经有几笔不是我下的单，"
        "请帮我冻结API。",
        priority=Priority.URGENT,
        asset_related=True,
        tags=("api-key",),
    ),
    _t(
        C.POLICY,
        ZH,
        "新加坡居民还能交易合约吗",
        "听说新加坡监管有新规定，我作为新加坡居民还可以在你们平台交易合约吗？",
        tags=("sg",),
    ),
    _t(
        C.POLICY,
        ZH,
        "德国报税需要交易记录",
        "我在德国居住，报税需要全年交易记录和盈亏明细，平台能提供吗？",
        tags=("tax",),
    ),
    _t(
        C.OTHER,
        ZH,
        "App更新后闪退",
        "更新到最新版本后，App一打开就闪退，手机型号 {phone_model}，重装也没用。",
        tags=("app",),
    ),
    _t(
        C.OTHER,
        ZH,
        "邀请返佣没有到账",
        "上个月邀请了三个好友注册并交易，返佣一直没有到账，请帮忙查一下。",
        tags=("referral",),
    ),
    # --- en ----------------------------------------------------------------------------------
    _t(
        C.ACCOUNT,
        EN,
        "Account locked after too many login attempts",
        "Hi, I am sure my password is right but the login page kept saying it was wrong. "
        "After {tries} tries my account is locked. How do I unlock it?",
        tags=("login",),
    ),
    _t(
        C.ACCOUNT,
        EN,
        "Lost my 2FA device",
        "I switched to a new phone ({phone_model}) and lost my authenticator app. "
        "I can't log in without the 2FA code. How can I reset it?",
        tags=("2fa",),
    ),
    _t(
        C.KYC,
        EN,
        "How long does KYC verification take?",
        "I submitted my passport and selfie {days} days ago and it still says 'under review'. "
        "My withdrawal limit is capped until then. How long does it usually take?",
        tags=("kyc-pending",),
    ),
    _t(
        C.KYC,
        EN,
        "KYC rejected – proof of address not accepted",
        "My verification was rejected because of the proof of address. I uploaded a utility bill "
        "from last month with my full name. What exactly is wrong with it?",
        tags=("kyc-rejected",),
    ),
    _t(
        C.DEPOSIT,
        EN,
        "Deposit of {amount} {asset} not credited, txid {txid_short}",
        "I deposited {amount} {asset} over {network} {hours} hours ago. The explorer shows it as "
        "confirmed but my balance hasn't changed.\nTxID: {txid}",
        priority=Priority.HIGH,
        tags=("deposit-missing",),
    ),
    _t(
        C.DEPOSIT,
        EN,
        "Sent {asset} on the wrong network",
        "I sent {amount} {asset} via {network} to my deposit address but the deposit page was set "
        "to a different network. Can it be recovered?\nTxID: {txid}",
        tags=("wrong-network",),
    ),
    _t(
        C.WITHDRAWAL,
        EN,
        "Withdrawal stuck pending for {hours} hours",
        "My withdrawal of {amount} {asset} to {address} ({network}) has been 'processing' for "
        "{hours} hours. Other exchanges do this in minutes. When will it go through?",
        tags=("withdrawal-pending",),
    ),
    _t(
        C.WITHDRAWAL,
        EN,
        "Withdrawals disabled after password reset?",
        "I reset my password yesterday and now withdrawals are blocked for 24 hours. "
        "Can you lift this early? I need the {amount} {asset} today.",
        tags=("withdrawal-lock",),
    ),
    _t(
        C.WITHDRAWAL,
        EN,
        "Withdrew to the wrong address – can you reverse it?",
        "I withdrew {amount} {asset} to {address} on {network} by mistake (TxID {txid}). "
        "Is there any way to get it back?",
        priority=Priority.HIGH,
        asset_related=True,
        tags=("wrong-address",),
    ),
    _t(
        C.TRADING,
        EN,
        "Limit order not filled at my price",
        "My {symbol} limit order {order_id} was not filled even though the price traded through "
        "my limit. Please check.",
        tags=("order",),
    ),
    _t(
        C.TRADING,
        EN,
        "Charged a higher trading fee than my tier",
        "I was charged {fee}% on a spot trade, which is more than the fee schedule says for my "
        "VIP level. Please review.",
        tags=("fees",),
    ),
    _t(
        C.FUTURES,
        EN,
        "Liquidated on {symbol} perpetual during the wick",
        "My {leverage}x long on the {symbol} perpetual was liquidated at {time} at {liq_price}, "
        "but the chart low was {low_price}. The price never reached my liquidation price. "
        "I want an explanation and compensation.",
        priority=Priority.HIGH,
        tags=("liquidation",),
    ),
    _t(
        C.FUTURES,
        EN,
        "Funding fee charged twice",
        "On the {symbol} perpetual I was charged the funding fee twice for the same interval. "
        "Please refund the duplicate.",
        tags=("funding",),
    ),
    _t(
        C.SECURITY,
        EN,
        "Someone logged into my account from {city_en}",
        "I just got an email about a login from {city_en} (IP {ip}). That was NOT me. "
        "{amount} {asset} is missing from my balance. Please freeze my account now!",
        priority=Priority.URGENT,
        asset_related=True,
        tags=("account-takeover",),
    ),
    _t(
        C.SECURITY,
        EN,
        "Phishing email pretending to be you",
        "I got an email that looks like it is from you, asking me to 'verify my account' via a "
        "link. I clicked it but did not enter anything. Is my account safe?",
        tags=("phishing",),
    ),
    _t(
        C.SECURITY,
        EN,
        "Unknown trades through my API key",
        "My API key was used from {ip}, which is not my server, and there are orders I did not "
        "place. Please disable the key.",
        priority=Priority.URGENT,
        asset_related=True,
        tags=("api-key",),
    ),
    _t(
        C.POLICY,
        EN,
        "Is staking available to German residents?",
        "I live in Germany. Is staking still available to me under MiCA, and what about the "
        "one-year holding period for tax?",
        tags=("de",),
    ),
    _t(
        C.POLICY,
        EN,
        "Transaction history for my tax return",
        "I need a full-year statement of my trades and realised gains for my tax return. "
        "Can you provide one?",
        tags=("tax",),
    ),
    _t(
        C.OTHER,
        EN,
        "App crashes on login",
        "Since the last update the app crashes as soon as I log in ({phone_model}). "
        "Reinstalling did not help.",
        tags=("app",),
    ),
    _t(
        C.OTHER,
        EN,
        "Referral rewards missing",
        "Three friends signed up with my referral link last month and traded, "
        "but I have not received any rewards.",
        tags=("referral",),
    ),
)

# Agent replies per category; the first answer of a ticket, then follow-ups.
FIRST_REPLIES: dict[str, dict[Category, str]] = {
    ZH: {
        C.ACCOUNT: "您好，已收到。为了保障账户安全，请先通过注册邮箱完成身份验证，"
        "我们会在验证通过后为您处理。",
        C.KYC: "您好，您的认证资料已在人工复核队列中，我们会尽快完成审核并通知您结果。",
        C.DEPOSIT: "您好，我们已在链上查到这笔交易，目前确认数为 {confirmations}/{required}，"
        "达到要求后会自动入账。",
        C.WITHDRAWAL: "您好，您的提现正在进行安全复核，预计几小时内完成，请耐心等待。",
        C.TRADING: "您好，已记录订单号，我们正在调取成交记录核实，稍后回复您。",
        C.FUTURES: "您好，我们会调取强平时刻的标记价格、指数价格和最新成交价进行核对，"
        "并出具分析报告。",
        C.SECURITY: "您好，我们已为您冻结提现、API和所有登录会话。请勿再点击任何可疑链接，"
        "风控专员会尽快联系您。",
        C.POLICY: "您好，这个问题涉及所在地区的监管要求，合规团队会根据最新规定给您答复"
        "（以下内容不构成法律意见）。",
        C.OTHER: "您好，感谢反馈，我们已转交相关团队处理。",
    },
    EN: {
        C.ACCOUNT: "Hi, thanks for reaching out. To keep your account safe, please confirm the "
        "verification email we just sent; we'll continue as soon as that's done.",
        C.KYC: "Hi, your documents are in the manual review queue. We'll let you know the result "
        "as soon as the review is complete.",
        C.DEPOSIT: "Hi, we found the transaction on-chain. It has {confirmations}/{required} "
        "confirmations and will be credited automatically once it reaches the requirement.",
        C.WITHDRAWAL: "Hi, your withdrawal is in a routine security review and should complete "
        "within a few hours.",
        C.TRADING: "Hi, we have your order id and are pulling the execution records; we'll come "
        "back to you shortly.",
        C.FUTURES: "Hi, we'll compare the mark, index and last price at the time of the "
        "liquidation and send you a full analysis.",
        C.SECURITY: "Hi, we have frozen withdrawals, API keys and all sessions on your account. "
        "Please don't click any further links; a risk officer will contact you shortly.",
        C.POLICY: "Hi, this depends on the rules of your jurisdiction; our compliance team will "
        "answer with the current position (this is not legal advice).",
        C.OTHER: "Hi, thanks for letting us know. We've passed this on to the right team.",
    },
}

ASK_FOR_INFO = {
    ZH: (
        "请提供一下相关截图和大概时间，方便我们进一步核查。",
        "麻烦提供交易哈希（TxID）和充值/提现记录截图。",
        "请上传手持身份证照片以完成身份验证。",
    ),
    EN: (
        "Could you send a screenshot and the approximate time so we can look further?",
        "Please send the transaction hash (TxID) and a screenshot of the history page.",
        "Please upload a selfie holding your ID so we can verify it's you.",
    ),
}

CUSTOMER_FOLLOW_UPS = {
    ZH: (
        "截图已上传，请查收。",
        "已经按要求提供了，请尽快处理，谢谢。",
        "还没有解决，请问进展如何？",
        "TxID 就是上面那个，麻烦再看一下。",
    ),
    EN: (
        "I've uploaded the screenshot.",
        "Done, please look again as soon as you can.",
        "Any update? This is still not resolved.",
        "The TxID is the one in my first message.",
    ),
}

SOLVED_REPLIES = {
    ZH: (
        "已为您处理完成，请刷新后查看。如有其他问题欢迎随时联系我们。",
        "问题已解决，感谢您的耐心等待。",
    ),
    EN: (
        "All sorted now, please refresh to check. Let us know if there's anything else.",
        "This is resolved. Thanks for your patience!",
    ),
}

INTERNAL_NOTES = {
    ZH: (
        "链上核实：确认数 {confirmations}/{required}，目标地址是客户的充值地址。",
        "已联系交易所运营确认，等待回复。",
        "客户情绪较激动，注意沟通语气。",
        "查看登录记录：最近一次登录IP {ip}，与常用地区不符。",
    ),
    EN: (
        "On-chain check: {confirmations}/{required} confirmations, destination is the "
        "customer's deposit address.",
        "Asked exchange ops to confirm; waiting for their answer.",
        "Customer is upset, keep replies short and concrete.",
        "Login history: last login from {ip}, not the customer's usual region.",
    ),
}

ESCALATION_REASONS = {
    ZH: (
        "疑似账户被盗，需要风控复核",
        "大额提现异常，转风控处理",
        "客户报告未授权的资金变动",
    ),
    EN: (
        "Possible account takeover, needs risk review",
        "Unusual large withdrawal, risk to review",
        "Customer reports funds moved without authorisation",
    ),
}

BOT_HANDOFF_REASONS = {
    ZH: ("客户要求转人工", "机器人无法识别问题，转人工处理"),
    EN: ("Customer asked for a human", "Bot could not classify the request; handing off"),
}

# --- people -----------------------------------------------------------------------------------

ZH_SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("林", "lin"),
    ("郭", "guo"),
    ("何", "he"),
)
ZH_GIVEN: tuple[tuple[str, str], ...] = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("磊", "lei"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("秀英", "xiuying"),
    ("志强", "zhiqiang"),
    ("晓东", "xiaodong"),
    ("海燕", "haiyan"),
    ("建华", "jianhua"),
    ("俊杰", "junjie"),
    ("思远", "siyuan"),
    ("雨桐", "yutong"),
)
EN_NAMES_SG: tuple[str, ...] = (
    "Tan Wei Jie",
    "Priya Nair",
    "Muhammad Hafiz",
    "Rachel Lim",
    "Jonathan Ong",
    "Nur Aisyah",
    "Daniel Goh",
    "Siti Rahmah",
    "Marcus Chua",
    "Aarav Menon",
    "Chloe Teo",
    "Ryan Koh",
    "Farah Ismail",
    "Kelvin Ng",
)
EN_NAMES_DE: tuple[str, ...] = (
    "Lukas Müller",
    "Anna Schmidt",
    "Jonas Becker",
    "Lea Wagner",
    "Felix Hoffmann",
    "Marie Schulz",
    "Paul Fischer",
    "Sophie Weber",
    "Leon Koch",
    "Hannah Richter",
    "Tim Klein",
    "Laura Wolf",
    "Maximilian Schröder",
    "Julia Neumann",
    "Elias Braun",
    "Mia Zimmermann",
)
EN_NAMES_US: tuple[str, ...] = ("Michael Johnson", "Emily Davis", "Chris Miller", "Ashley Brown")
INSTITUTIONS: tuple[tuple[str, str], ...] = (
    ("Marina Bay Digital Pte. Ltd.", "SG"),
    ("Rhein Asset Management GmbH", "DE"),
    ("Lion City Quant Pte. Ltd.", "SG"),
    ("维港数字资产有限公司", "HK"),
)
