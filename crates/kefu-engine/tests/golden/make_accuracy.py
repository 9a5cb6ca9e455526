#!/usr/bin/env python3
"""Writes accuracy.jsonl: short real-text cases for issue 11 (context guards,
time zones, complaint triggers, holds, the standard's exceptions, chat
profile). Each line is a native conversation plus
  "item":   which issue item it exercises,
  "fires":  rules that must produce a finding,
  "silent": rules that must not (the must-not checks),
  "veto":   optional expected veto,
  "not_applicable": optional rules that must be listed as such.
Turns are (role, text) or (role, text, start_ms, end_ms). Hand-written from
the standard and from the way real Taobao chats and ASR transcripts read; the
expectations are never copied from the engine's output.
Run: python3 make_accuracy.py   (deterministic)."""
import json, os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "accuracy.jsonl")
cases = []
ROLE = {"a": "agent", "c": "customer", "s": "system"}


def case(cid, item, turns, fires=(), silent=(), channel="chat", veto=None,
         started_at="2026-03-18T14:12:40+08:00", **extra):
    ts = []
    for t in turns:
        d = {"role": ROLE[t[0]], "text": t[1]}
        if len(t) == 4:
            d["start_ms"], d["end_ms"] = t[2], t[3]
        ts.append(d)
    c = {"id": cid, "item": item, "channel": channel, "agent_id": "a-1",
         "turns": ts, "fires": list(fires), "silent": list(silent)}
    if started_at is not None:
        c["started_at"] = started_at
    if veto is not None:
        c["veto"] = veto
    c.update(extra)
    assert set(c["fires"]).isdisjoint(c["silent"]), cid
    cases.append(c)


LANG = ["forbidden", "insult", "vulgar", "casual", "address_wei", "blunt", "disparage"]

# ---------------------------------------------------------------- item 1
# Words that contain a phrase.
case("acc-101", 1, [("c", "手机老是卡住不动"), ("a", "您可以在设置里查找死机原因的日志，我帮您看一下")],
     silent=LANG, veto=False)
case("acc-102", 1, [("c", "你们的饲料效果怎么样"), ("a", "用了以后牲畜生长会快一些，这批牲畜生病的也少了")],
     silent=LANG, veto=False)
case("acc-103", 1, [("c", "我买的那个零食礼盒"), ("a", "您购买的是乡巴佬卤蛋礼盒对吗？这款乡巴佬鸡腿也在活动中")],
     silent=LANG, veto=False)
case("acc-104", 1, [("c", "帮我妈登记一下"), ("a", "好的，麻烦您提供一下你妈的手机号，我们给阿姨登记")],
     silent=LANG, veto=False)
case("acc-105", 1, [("c", "取件码是多少"), ("a", "您的取件码是ATMD7Q2，另一个是 T M D 8 8 1 2，请查收")],
     silent=LANG, veto=False)
case("acc-106", 1, [("c", "小猫一天喂几次"), ("a", "幼猫一天喂三次就可以，每次喂两勺")],
     silent=LANG, veto=False)
case("acc-107", 1, [("c", "视频一直卡"), ("a", "您那边信号差劲的话可以换个位置试试")],
     silent=LANG, veto=False)
# Third parties and objects.
case("acc-108", 1, [("c", "今天怎么没送"), ("a", "快递员说要下班了，所以明天上午给您派送")],
     silent=LANG, veto=False)
case("acc-109", 1, [("c", "照片我发了"), ("a", "您上传的照片有点不清楚，麻烦您重新拍一张")],
     silent=LANG, veto=False)
case("acc-110", 1, [("c", "我爸不会用"), ("a", "很多老年用户不清楚怎么操作，我一步步教您")],
     silent=LANG, veto=False)
case("acc-111", 1, [("c", "刚才有人打电话给我说送错了"), ("a", "是快递员打错电话了，我们已经跟快递公司反馈")],
     silent=LANG, veto=False)
case("acc-112", 1, [("c", "你们上次答应的"), ("a", "我没有空口答应您，这个在系统里都能查到记录的")],
     silent=LANG, veto=False)
case("acc-113", 1, [("c", "怎麼還沒送"), ("a", "快遞員說要下班了，明天一早給您送過去")],
     silent=LANG, veto=False)
case("acc-114", 1, [("c", "图片看不到"), ("a", "系统显示的截图不太清楚，您能再发一次吗")],
     silent=LANG, veto=False)
# Negation does not trigger a response rule.
case("acc-115", 1, [("c", "东西收到了，放心不差评"), ("a", "好的，有问题随时找我")],
     silent=["apology"])
case("acc-116", 1, [("c", "第一次在你们家买，希望不要失望哦"), ("a", "好的，一定给您挑好的发")],
     silent=["apology"])
case("acc-117", 1, [("c", "我不会给差评的，就是问问"), ("a", "好的，您说")],
     silent=["apology"])
# The real thing still fires.
case("acc-121", 1, [("c", "你们怎么回事"), ("a", "你找死啊，天天打电话")],
     fires=["insult"], veto=True)
case("acc-122", 1, [("c", "几点送"), ("a", "我要下班了，你明天再打来")], fires=["forbidden"])
case("acc-123", 1, [("c", "这个怎么用"), ("a", "我不清楚，你自己看说明书")], fires=["forbidden"])
case("acc-124", 1, [("c", "又卡了"), ("a", "TMD 又卡了，你等会")], fires=["vulgar"])
case("acc-125", 1, [("c", "…"), ("a", "喂，还在吗")], fires=["address_wei"])
case("acc-126", 1, [("c", "怎么还不好"), ("a", "你妈的，烦不烦")], fires=["vulgar"])
case("acc-127", 1, [("c", "我要给你们差评"), ("a", "随便")], fires=["apology"])
case("acc-128", 1, [("c", "你骂谁"), ("a", "骂的就是你这个畜生")], fires=["insult"], veto=True)
case("acc-129", 1, [("c", "说话"), ("a", "給我滾")], fires=["insult"], veto=True)
case("acc-130", 1, [("c", "太失望了，等了一个礼拜"), ("a", "我帮您查一下")], fires=["apology"])
# Ambiguous words: a finding at most, never a veto.
case("acc-131", 1, [("c", "好了吗"), ("a", "我真是个笨蛋，刚才输错了，我重新帮您提交")], veto=False)
case("acc-132", 1, [("c", "有适合老人的吗"), ("a", "这款是傻瓜式操作，老人也会用")],
     silent=["insult"], veto=False)

# ---------------------------------------------------------------- item 2
# The centre is on +08:00; exports may carry Z, +00:00 or Unix times.
NATIONAL_DAY = [("c", "在吗"), ("a", "您好，请问有什么可以帮您"), ("c", "查下快递"), ("a", "好的")]
case("acc-201", 2, NATIONAL_DAY, fires=["holiday_greeting"], started_at="2026-10-01T07:30:00+08:00")
case("acc-202", 2, NATIONAL_DAY, fires=["holiday_greeting"], started_at="2026-09-30T23:30:00Z")
case("acc-203", 2, NATIONAL_DAY, fires=["holiday_greeting"], started_at="2026-09-30T23:30:00+00:00")
case("acc-204", 2, NATIONAL_DAY, fires=["holiday_greeting"], started_at=1790811000000)
case("acc-205", 2, NATIONAL_DAY, silent=["holiday_greeting"], started_at="2026-09-30T15:30:00Z")
EVENING = [("c", "在吗"), ("a", "晚上好，请问有什么可以帮您"), ("c", "查下快递"), ("a", "好的")]
case("acc-206", 2, EVENING, fires=["greeting_evening"], started_at="2026-03-17T23:30:00Z")
case("acc-207", 2, EVENING, silent=["greeting_evening"], started_at="2026-03-18T12:30:00Z")
case("acc-208", 2, [("c", "在吗"), ("a", "早上好，请问有什么可以帮您")], fires=["greeting_morning"],
     started_at="2026-03-18T12:30:00+00:00")
case("acc-209", 2, [("c", "在吗"), ("a", "早上好，请问有什么可以帮您")], silent=["greeting_morning"],
     started_at="2026-03-18T01:30:00Z")

# ---------------------------------------------------------------- item 3
# Real complaints from Taobao-style chats; the agent answers without apology.
for n, (complaint, reply) in enumerate([
    ("怎么这么长时间还没到啊", "亲，物流显示在路上了"),
    ("什么情况？？显示签收了我没收到", "我帮您查一下物流"),
    ("你们发错了，我买的是黑色的发来个白色", "您拍个照片发过来"),
    ("少了一个配件，漏发了吧", "您核对一下包裹里的小袋子"),
    ("都五天了还没发货", "仓库在安排了"),
    ("客服一直没人理", "现在是我在为您服务"),
    ("问了半天没人说话", "在的，您说"),
    ("凭什么不给我退", "您这个超过七天了"),
    ("不是说了今天发货吗", "今天的单比较多"),
    ("都 一 个 星 期 了 还 没 到", "已经在派送中"),
    ("怎麼這麼長時間還沒到", "快遞在路上"),
], start=1):
    case(f"acc-3{n:02d}", 3, [("c", "在吗"), ("a", "您好，有什么可以帮您"), ("c", complaint), ("a", reply),
                              ("c", "好吧"), ("a", "还有其他问题吗")], fires=["apology"])
# A trigger in the customer's last turn, answered by the agent's last turn.
case("acc-320", 3, [("a", "您好，有什么可以帮您"), ("c", "我的退款呢，都三天了"), ("a", "已经在处理了，请耐心等待")],
     fires=["apology"])
case("acc-321", 3, [("a", "您好，有什么可以帮您"), ("c", "我要退运费"), ("a", "这是公司规定，运费不退")],
     fires=["policy_apology"])
case("acc-322", 3, [("a", "您好，有什么可以帮您"), ("c", "什么情况，怎么还没到"), ("a", "非常抱歉，我马上帮您催")],
     silent=["apology"])
# Praise expects thanks.
case("acc-330", 3, [("a", "您好"), ("c", "收到了，东西不错，下次还会再光顾"), ("a", "好的，有问题随时联系")],
     fires=["thanks"])
case("acc-331", 3, [("a", "您好"), ("c", "质量很好，会回购的"), ("a", "好的")], fires=["thanks"])
case("acc-332", 3, [("a", "您好"), ("c", "东西不错"), ("a", "谢谢亲的支持")], silent=["thanks"])
# Look-alikes that are not complaints.
case("acc-340", 3, [("a", "您好"), ("c", "什么情况下可以退货"), ("a", "七天内未使用都可以")], silent=["apology"])
case("acc-341", 3, [("a", "您好"), ("c", "我地址发错了，能改吗"), ("a", "可以的，您把新地址发我")], silent=["apology"])
case("acc-343", 3, [("a", "您好"), ("c", "你们给我发错了颜色"), ("a", "您拍个照")], fires=["apology"])
case("acc-342", 3, [("a", "您好"), ("c", "不是说了吗我要蓝色的，你看下备注"), ("a", "好的已经备注蓝色")],
     fires=["apology"])

# ---------------------------------------------------------------- item 4
def timed(spec):
    """[(role, text, gap_before_ms)] -> timed turns at ~4 chars/s; a
    negative gap starts the turn that long before the previous one ends."""
    out, t = [], 0
    for role, text, gap in spec:
        t += gap
        d = max(1000, len(text) * 250)
        out.append((role, text, t, t + d))
        t = max(t + d, out[-2][3] if len(out) > 1 else 0)
    return out


OPEN = [("a", "您好，工号1023为您服务，请问有什么可以帮您", 0), ("c", "我想查一下上个月的话费明细", 800)]
case("acc-401", 4, timed(OPEN + [("a", "好的，我帮您查一下", 700), ("a", "查到了，上个月话费是八十六元", 40000),
                                 ("c", "好的", 600)]),
     fires=["wait_thanks"], silent=["silence", "hold"], channel="phone")
case("acc-402", 4, timed(OPEN + [("a", "好的，我帮您查一下", 700), ("a", "感谢您的耐心等待，上个月话费是八十六元", 40000),
                                 ("c", "好的", 600)]),
     silent=["wait_thanks", "silence", "hold"], channel="phone")
case("acc-403", 4, timed(OPEN + [("a", "好的，请您稍等", 700), ("a", "感谢您的耐心等待，上个月话费是八十六元", 80000),
                                 ("c", "好的", 600)]),
     fires=["silence"], silent=["hold", "wait_thanks"], channel="phone")
case("acc-404", 4, timed(OPEN + [("a", "好的，请您稍等", 700), ("a", "还在查询中，请您再稍等一下", 50000),
                                 ("a", "让您久等了，上个月话费是八十六元", 40000), ("c", "好的", 600)]),
     silent=["silence", "hold", "wait_thanks"], channel="phone")
case("acc-405", 4, timed(OPEN + [("a", "不着急的", 700), ("c", "嗯我找一下", 600), ("a", "找到了吗", 20000)]),
     fires=["silence"], channel="phone")
case("acc-406", 4, timed(OPEN + [("a", "已经为您办理，稍候会有短信通知", 700), ("c", "哦那我等一下", 600),
                                 ("a", "请问还有其他问题吗", 15000)]),
     fires=["silence"], silent=["hold"], channel="phone")
case("acc-407", 4, timed(OPEN + [("a", "查到了，上个月话费是八十六元", 35000), ("c", "好的", 600)]),
     fires=["wait_thanks", "silence"], channel="phone")
case("acc-408", 4, timed(OPEN + [("a", "请 稍 候", 700), ("a", "上个月话费是八十六元", 20000), ("c", "好", 600)]),
     fires=["hold"], silent=["silence", "wait_thanks"], channel="phone")

# ---------------------------------------------------------------- item 5
BASE5 = [("a", "您好，工号1023为您服务，请问有什么可以帮您", 0),
         ("c", "我想改一下我的套餐，就是把那个流量包换成大一点的，然后话费", 800)]
def overlap(text, into):
    """An agent turn starting `into` ms before the previous turn ends."""
    return ("a", text, -into)
case("acc-501", 5, timed(BASE5 + [overlap("嗯", 2000), ("c", "每个月还是扣那么多吗", 100),
                                   ("a", "明白了", -1500)]),
     silent=["interrupt"], channel="phone")
case("acc-502", 5, timed(BASE5 + [overlap("好的，您是说要换成大流量的对吧", 3000)]),
     fires=["interrupt"], channel="phone")
case("acc-503", 5, [("a", "喂您好，工号1023为您服务"), ("a", "您好，听不到您的声音，请您稍后再拨，再见")],
     channel="phone", ended_by="agent", silent=["ended_by"])
case("acc-504", 5, [("a", "您好，工号1023为您服务"), ("c", "我问一下话费"), ("a", "八十六元，没别的事我挂了")],
     channel="phone", ended_by="agent", fires=["ended_by"])
case("acc-505", 5, [("a", "您好像没有登录，先登录一下"), ("c", "登录了"), ("a", "好的")], fires=["opening"])
case("acc-506", 5, [("a", "您好，请问有什么可以帮您"), ("c", "收到货有划痕"),
                    ("a", "非常抱歉，如果您再见到这种情况可以直接拍照给我们")],
     fires=["closing"], silent=["opening"])
case("acc-507", 5, [("a", "您好，请问有什么可以帮您"), ("c", "这个好用吗"),
                    ("a", "您可以看一下宝贝评价，买家反馈都不错"), ("c", "好")], fires=["survey"])
case("acc-508", 5, [("a", "您好，请问有什么可以帮您"), ("c", "没事了"),
                    ("a", "请问您对本次服务满意吗？感谢您的来电，再见")], silent=["survey", "closing"],
     channel="phone")

# ---------------------------------------------------------------- item 6
FULL_CHAT_END = [("a", "还有其他问题吗亲"), ("c", "没了"), ("a", "感谢您的咨询，祝您生活愉快")]
case("acc-601", 6, [("c", "在吗"), ("a", "亲爱的，您好，请问有什么可以帮您"), ("c", "发货了吗"),
                    ("a", "宝贝已经发出了哦亲")] + FULL_CHAT_END, silent=["casual"])
case("acc-602", 6, [("a", "您好，请问有什么可以帮您"), ("c", "我的快递"), ("a", "亲爱的，已经发出了")],
     channel="phone", fires=["casual"])
case("acc-603", 6, [("c", "在吗"), ("a", "您好亲，请问有什么可以帮您"), ("c", "发票开好了吗"),
                    ("a", "已经开好发送到您邮箱了")] + FULL_CHAT_END +
     [("s", "邀请您对本次服务进行评价：非常满意 满意 一般 不满意")], silent=["survey"])
case("acc-604", 6, [("c", "在吗"), ("a", "您好亲，请问有什么可以帮您"), ("c", "发票开好了吗"),
                    ("a", "已经开好发送到您邮箱了")] + FULL_CHAT_END, fires=["survey"])
case("acc-605", 6, [("c", "好的，那就按你说的换黑色吧"), ("a", "已经给您备注黑色了"), ("c", "嗯")],
     silent=["opening", "closing", "survey", "anything_else"])
case("acc-606", 6, [("c", "刚才说的那个优惠券怎么用"), ("a", "下单时勾选就可以了")],
     silent=["opening", "closing"])
case("acc-607", 6, [("c", "我的快递到哪了"), ("a", "已经到您当地的网点了")], fires=["opening", "closing"])
case("acc-608", 6, [("a", "您好，有什么可以帮您"), ("c", "查物流"), ("a", "明天到")],
     meta={"excerpt": True}, silent=["opening", "closing", "survey"])
case("acc-609", 6, [("c", "在吗"), ("a", "您好，请问有什么可以帮您"), ("c", "发货了吗"), ("a", "发了")],
     not_applicable=["hold", "interrupt", "speech_rate", "silence", "wait_thanks", "ended_by",
                     "job_number", "response_time"])


def main():
    ids = set()
    with open(OUT, "w", encoding="utf-8") as f:
        for c in cases:
            assert c["id"] not in ids, c["id"]
            ids.add(c["id"])
            f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
