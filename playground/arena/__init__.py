"""Blind arenas: two models of a pool answer a participant's prompt as "Model A" and "Model B", the
participant votes, and the votes make a Bradley–Terry leaderboard with bootstrap intervals."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "Arenas": "service",
        "ArenaSetup": "service",
        "BattleView": "service",
        "Standings": "service",
        "PoolOption": "service",
        "JOIN_PARAM": "links",
        "ARENA_PATH": "links",
        "PRESENTER_PATH": "links",
        "join_link": "links",
        "AddressError": "links",
        "DEFAULT_VOTES_PER_MINUTE": "service",
        "FIGURES_HIDDEN": "service",
        "is_arena_id": "links",
        "ArenaError": "service",
        "UsageError": "service",
        "SideText": "battle",
        "TOO_LONG": "battle",
        "local_owner": "owners",
        "new_owner_key": "owners",
        "THIS_MACHINE": "owners",
        "SideDone": "battle",
        "BattleTurn": "battle",
        "Leaderboard": "ratings",
        "ModelRating": "ratings",
        "leaderboard": "ratings",
        "TIE_CONVENTION": "ratings",
        "DEFAULT_BOOTSTRAP": "ratings",
        "read_vote_log": "votelog",
        "parse_vote_log": "votelog",
        "vote_log": "votelog",
        "VoteLogError": "votelog",
        "join_qr_png": "qr",
    },
)
