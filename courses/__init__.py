"""Teachers' courses: modules, items (media, pages, links, quizzes), media storage, deep linking."""
