"""Courses a teacher builds in the tool: modules and items in order, quiz questions, placements.

A course belongs to one platform and one owner (a user of that platform); nothing here is ever
read across platforms. Instructors of an LMS context where the course is placed (by deep linking)
co-teach it. Modules, items and questions carry their platform id too, so every query can filter
by tenant without a join.

Public ids (random, unguessable) name courses, modules and items in URLs and in the `custom`
parameters of placed LMS links; database ids never leave the tool except for question ids inside
forms of an item the viewer may already see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import UTCDateTime, db, utcnow
from lti_tool.models import Context

# Item kinds. Media kinds hold an uploaded object; the others hold text, a URL or questions.
VIDEO, AUDIO, PDF, IMAGE, PAGE, LINK, QUIZ = "video", "audio", "pdf", "image", "page", "link", "quiz"
MEDIA_KINDS = (VIDEO, AUDIO, PDF, IMAGE)
ITEM_KINDS = (VIDEO, AUDIO, PDF, IMAGE, PAGE, LINK, QUIZ)
GRADABLE_KINDS = (QUIZ,)

# Question kinds.
SINGLE, MULTIPLE, NUMERIC, TEXT = "single", "multiple", "numeric", "text"
QUESTION_KINDS = (SINGLE, MULTIPLE, NUMERIC, TEXT)

# When a learner sees which answers were right.
SHOW_NEVER, SHOW_AFTER_ATTEMPT, SHOW_AFTER_DUE = "never", "after_attempt", "after_due"
SHOW_ANSWERS = (SHOW_NEVER, SHOW_AFTER_ATTEMPT, SHOW_AFTER_DUE)

# Which attempt counts for the grade (applied by the grades package).
GRADE_HIGHEST, GRADE_LATEST, GRADE_AVERAGE = "highest", "latest", "average"
GRADE_POLICIES = (GRADE_HIGHEST, GRADE_LATEST, GRADE_AVERAGE)


class Course(db.Model):
    __tablename__ = "courses"
    __table_args__ = (Index("ix_courses_platform_owner", "platform_id", "owner_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    owner_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    modules: Mapped[list[Module]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="Module.position"
    )
    placements: Mapped[list[CoursePlacement]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="CoursePlacement.id"
    )


class CoursePlacement(db.Model):
    """The course (or some of its modules or items) was placed in this LMS context by deep linking.

    Instructors of the context co-teach the course; learners of the context may open what their
    LMS link points at.
    """

    __tablename__ = "course_placements"
    __table_args__ = (
        UniqueConstraint("course_pk", "context_pk"),
        Index("ix_course_placements_context", "context_pk"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    placed_by_pk: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship(back_populates="placements")
    context: Mapped[Context] = relationship()


class Module(db.Model):
    __tablename__ = "course_modules"
    __table_args__ = (Index("ix_course_modules_course_position", "course_pk", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship(back_populates="modules")
    items: Mapped[list[Item]] = relationship(
        back_populates="module", cascade="all, delete-orphan", order_by="Item.position"
    )


class Item(db.Model):
    """One thing a learner opens: a media file, a page, an external link or a quiz."""

    __tablename__ = "course_items"
    __table_args__ = (
        Index("ix_course_items_module_position", "module_pk", "position"),
        Index("ix_course_items_course", "course_pk"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    # Kept beside module_pk so access checks find the course without a join.
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    module_pk: Mapped[int] = mapped_column(ForeignKey("course_modules.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    # A line shown under the title and sent as the LMS link's text.
    summary: Mapped[str] = mapped_column(String(500), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=False)

    # page: sanitised HTML (sanitised again when rendered)
    body_html: Mapped[str] = mapped_column(Text, default="")
    # link: an http(s) URL
    url: Mapped[str | None] = mapped_column(String(2000))

    # video, audio, pdf, image: the stored object
    media_key: Mapped[str | None] = mapped_column(String(300))
    media_content_type: Mapped[str | None] = mapped_column(String(100))
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    media_filename: Mapped[str | None] = mapped_column(String(255))
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    # image: text alternative for screen readers
    alt_text: Mapped[str] = mapped_column(String(500), default="")
    # video: an optional WebVTT caption track
    caption_key: Mapped[str | None] = mapped_column(String(300))
    caption_size: Mapped[int | None] = mapped_column(BigInteger)
    caption_filename: Mapped[str | None] = mapped_column(String(255))
    caption_language: Mapped[str | None] = mapped_column(String(35))

    # quiz
    attempts_allowed: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The IANA zone the teacher entered the due date in, to show it back the same way.
    due_timezone: Mapped[str | None] = mapped_column(String(64))
    show_answers: Mapped[str] = mapped_column(String(20), default=SHOW_AFTER_ATTEMPT)
    grade_policy: Mapped[str] = mapped_column(String(10), default=GRADE_HIGHEST)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    module: Mapped[Module] = relationship(back_populates="items")
    course: Mapped[Course] = relationship(viewonly=True)
    questions: Mapped[list[Question]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="Question.position"
    )

    @property
    def is_media(self) -> bool:
        return self.kind in MEDIA_KINDS

    @property
    def is_gradable(self) -> bool:
        return self.kind in GRADABLE_KINDS

    @property
    def max_score(self) -> float:
        return round(sum(q.points for q in self.questions), 4)

    def media_keys(self) -> list[str]:
        return [key for key in (self.media_key, self.caption_key) if key]


class Question(db.Model):
    __tablename__ = "quiz_questions"
    __table_args__ = (Index("ix_quiz_questions_item_position", "item_pk", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    item_pk: Mapped[int] = mapped_column(ForeignKey("course_items.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20))
    prompt: Mapped[str] = mapped_column(Text)
    points: Mapped[float] = mapped_column(Float, default=1.0)
    # single and multiple choice: [{"id": "c1", "text": "...", "correct": true}, ...]
    choices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # short text: answers accepted regardless of case and spacing
    accepted_answers: Mapped[list[str]] = mapped_column(JSON, default=list)
    # numeric: kept as decimal text so 3.15 vs 3.14 +- 0.01 compares exactly, not in binary floats
    numeric_answer: Mapped[str | None] = mapped_column(String(40))
    numeric_tolerance: Mapped[str | None] = mapped_column(String(40))
    # shown with the correct answer, when the quiz shows answers
    feedback: Mapped[str] = mapped_column(Text, default="")

    item: Mapped[Item] = relationship(back_populates="questions")
