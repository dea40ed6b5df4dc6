"""Who may use the bot: strangers get one refusal and nothing else, the admin's /allow lets them
in, the lists are seeded from the settings as changes, and /users shows who is there."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.clock import FakeClock
from core.values import AccessList, Account, Sender, Totals
from tests.unit.conftest import ADMIN, ALICE, BOB, GROUP, Harness, make_harness

ADMIN_SENDER = Sender(ADMIN, "Admin")
CAROL = Sender("300", "Carol", "Carol_C", "en")


def private_bot(**config: object) -> Harness:
    return make_harness(None, None, allowed_users=("200",), **config)


def clock(bot: Harness) -> FakeClock:
    found = bot.service.clock
    assert isinstance(found, FakeClock)
    return found


async def test_a_stranger_gets_one_refusal_and_nothing_else() -> None:
    bot = private_bot()
    await bot.say("hello")
    assert await bot.accounts.get(ALICE.id) is None  # no account, no welcome balance
    assert await bot.accounts.count() == 0
    assert bot.model.requests == []  # no model call
    assert await bot.totals() == Totals()  # nothing counted
    assert len(bot.sink.sent) == 1
    refusal = bot.last()
    assert "only the people its admin has let in" in refusal
    assert ALICE.id in refusal  # what to send the admin to ask for access
    for command in ("/start", "/balance", "another"):
        await bot.say(command)
    assert len(bot.sink.sent) == 1  # at most once a day
    clock(bot).advance(24 * 3600)
    await bot.say("hello again")
    assert len(bot.sink.sent) == 2
    assert bot.sink.sent[-1].text == refusal
    assert await bot.accounts.count() == 0


async def test_a_stranger_in_a_group_is_not_answered() -> None:
    bot = private_bot()
    await bot.say("hello", chat_id=GROUP)
    assert bot.sink.sent == []
    assert await bot.accounts.count() == 0
    assert bot.model.requests == []


async def test_the_admin_is_told_once_per_stranger_in_one_coalesced_notice() -> None:
    bot = private_bot(notify_new_users=True)
    await bot.say("hello")
    await bot.say("hello", chat_id=GROUP)
    await bot.say("hi", sender=CAROL)
    await bot.service.drain()
    await bot.say("once more")
    await bot.service.drain()
    assert len(bot.operator.notices) == 2  # the first goes at once, the next waits and merges
    assert "Alice @alice (100)" in bot.operator.notices[0]
    assert "Carol @Carol_C (300)" in bot.operator.notices[1]
    assert all("/allow" in notice for notice in bot.operator.notices)


async def test_listed_people_chats_and_the_admin_are_served() -> None:
    bot = make_harness(allowed_users=("200", "@CAROL_c"), allowed_chats=(GROUP,))
    await bot.say("hi", sender=BOB)
    await bot.say("hi", sender=CAROL)  # a username compares without case or "@"
    await bot.say("hi", sender=ADMIN_SENDER)
    await bot.say("hi", chat_id=GROUP)  # Alice, a stranger, in an allowed group
    assert len(bot.model.requests) == 4
    assert await bot.balance(ALICE.id) < 30_000  # a group allowed as a whole charges each speaker


async def test_the_bot_is_open_to_everyone_without_lists() -> None:
    bot = make_harness()
    await bot.say("hi")
    assert len(bot.model.requests) == 1


async def test_allow_lets_a_stranger_in_and_disallow_shuts_them_out() -> None:
    bot = private_bot()
    await bot.say("hi")
    await bot.say("/allow 100", sender=ADMIN_SENDER)
    assert bot.last() == "100 may use the bot."
    await bot.say("hi")
    assert len(bot.model.requests) == 1
    assert await bot.accounts.get(ALICE.id) is not None
    await bot.say("/disallow 100", sender=ADMIN_SENDER)
    assert bot.last() == "100 is no longer on the access list."
    clock(bot).advance(24 * 3600)
    await bot.say("hi")
    assert len(bot.model.requests) == 1
    assert "let in" in bot.last()


async def test_allow_by_username_and_for_a_whole_group() -> None:
    bot = private_bot()
    await bot.say("/allow @Alice", sender=ADMIN_SENDER)
    assert bot.last() == "@alice may use the bot."
    await bot.say("hi")
    assert len(bot.model.requests) == 1
    await bot.say("/allow", sender=ADMIN_SENDER, chat_id=GROUP)
    assert bot.last() == "Everyone in this chat may use the bot."
    await bot.say("hi", sender=CAROL, chat_id=GROUP)
    assert len(bot.model.requests) == 2
    await bot.say("/disallow", sender=ADMIN_SENDER, chat_id=GROUP)
    await bot.say("hi", sender=CAROL, chat_id=GROUP)
    assert len(bot.model.requests) == 2
    await bot.say("/disallow nobody", sender=ADMIN_SENDER)
    assert "was not on the access list" in bot.last()


async def test_access_commands_are_the_admins() -> None:
    bot = make_harness(allowed_users=("100",))
    for command in ("/allow 5", "/disallow 100", "/users", "/allowance 100 5"):
        await bot.say(command)
        assert bot.last() == "Only the bot's admin can do that."
    assert (await bot.accounts.access()).users == {"100"}


async def test_allow_while_open_says_the_list_does_not_count_yet() -> None:
    bot = make_harness()
    await bot.say("/allow 100", sender=ADMIN_SENDER)
    assert "open to everyone" in bot.last()


async def test_users_lists_balances_a_page_at_a_time() -> None:
    bot = make_harness()
    for number in range(25):
        await bot.accounts.register(Account(str(1000 + number), number))
    await bot.say("/users", sender=ADMIN_SENDER)
    page = bot.last()
    assert page.startswith("Users 1–20 of 26:")
    assert "? (1000): 0, last request never" in page
    assert "Next page: /users 2" in page
    await bot.say("/users 2", sender=ADMIN_SENDER)
    assert bot.last().startswith("Users 21–26 of 26:")
    assert "Next page" not in bot.last()
    await bot.say("/users 9", sender=ADMIN_SENDER)
    assert bot.last() == "No users on page 9."


async def test_users_asked_in_a_group_goes_to_the_admin_privately() -> None:
    bot = make_harness(allowed_users=("100",))
    await bot.say("/users", sender=ADMIN_SENDER, chat_id=GROUP)
    await bot.service.drain()
    assert [sent.chat_id for sent in bot.sink.sent] == [GROUP]
    assert bot.last() == "The list of users is in your private chat with the bot."
    assert bot.operator.notices[-1].startswith("Users 1–1 of 1:")
    assert "Access list: 100" in bot.operator.notices[-1]


async def test_the_settings_seed_the_stored_list_as_changes() -> None:
    bot = make_harness(allowed_users=("100", "@Ann"))
    await bot.say("/disallow 100", sender=ADMIN_SENDER)
    await bot.say("/allow 7", sender=ADMIN_SENDER)
    assert (await bot.accounts.access()).users == {"@ann", "7"}
    # The next start, with other settings, on the same store.
    again = make_harness(allowed_users=("100", "300"), allowed_chats=(GROUP,))
    again.use_accounts(bot.accounts)
    await again.say("/users", sender=ADMIN_SENDER)
    access = await bot.accounts.access()
    # 100 stays removed (the settings still name it, the admin took it off); @ann goes with the
    # settings; the admin's 7 stays; 300 and the group come with the settings.
    assert access.users == {"7", "300"}
    assert access.chats == {GROUP}


entries = st.sets(st.sampled_from(["1", "2", "@a", "@b", "-5"]), max_size=4).map(frozenset)


@given(entries, entries, entries, entries)
def test_seeding_applies_exactly_the_settings_changes(
    start: frozenset[str], admins: frozenset[str], before: frozenset[str], after: frozenset[str]
) -> None:
    """Whatever the admin did after the settings named ``before``, naming ``after`` adds what
    is new in it and removes what it dropped, and touches nothing else."""
    seeded = AccessList().seeded(before, frozenset())
    edited = AccessList(
        users=(seeded.users | admins) - (start - admins), seeded_users=seeded.seeded_users
    )
    changed = edited.seeded(after, frozenset())
    for entry in edited.users | before | after:
        if entry in after - before:
            assert entry in changed.users
        elif entry in before - after:
            assert entry not in changed.users
        else:
            assert (entry in changed.users) == (entry in edited.users)
    assert changed.seeded_users == after
    assert changed.seeded(after, frozenset()) == changed  # the same settings again: no change


async def test_an_id_that_starts_with_the_username_sign_is_still_an_id() -> None:
    """A messenger whose ids look like "@name:server": listed (in any case), they are let in,
    and /allowance finds them by id."""
    someone = Sender("@ann:example.org", "Ann")
    bot = make_harness(allowed_users=("@Ann:Example.org",))
    await bot.say("hi", sender=someone)
    assert len(bot.model.requests) == 1
    await bot.say("/allowance @ann:example.org 500", sender=ADMIN_SENDER)
    assert "gets 500 tokens each month" in bot.last()
