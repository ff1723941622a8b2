-- Demo data for `npm run dev`: idempotent (INSERT OR IGNORE on fixed ids), times relative to now so
-- that every admin feature has something to act on whenever it is loaded:
--   * two videos soft-deleted 30 and 12 days ago (past the 7-day purge window) and one 2 days ago (inside it)
--   * conversations last active 75, 45 and 2 days ago (the first two past the 30-day archive window)
--   * context of every well-known type, including whole-video context (timestamp NULL)
INSERT OR IGNORE INTO videos (id, filename, file_path, duration, category, tags, metadata, created_at, updated_at, deleted_at) VALUES
  ('demo-lecture-01', 'linear-algebra-01.mp4', '/media/lectures/linear-algebra-01.mp4', 3120.5, 'lecture', '["math","week-1"]', '{"fps":30,"width":1920,"height":1080}',
    CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000, NULL),
  ('demo-lecture-02', 'linear-algebra-02.mp4', '/media/lectures/linear-algebra-02.mp4', 2980.0, 'lecture', '["math","week-2"]', '{"fps":30,"width":1920,"height":1080}',
    CAST(unixepoch('now', '-83 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-83 days') AS INTEGER) * 1000, NULL),
  ('demo-street-cam', 'street-cam-2026-11-01.mp4', '/media/cams/street-cam-2026-11-01.mp4', 86400.0, 'surveillance', '["camera-3"]', '{"fps":15}',
    CAST(unixepoch('now', '-20 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-20 days') AS INTEGER) * 1000, NULL),
  ('demo-soccer-final', 'cup-final.mp4', '/media/sports/cup-final.mp4', 5400.0, 'sports', '["football","final"]', NULL,
    CAST(unixepoch('now', '-10 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-10 days') AS INTEGER) * 1000, NULL),
  ('demo-old-upload', 'old-upload.mov', '/media/uploads/old-upload.mov', 42.0, NULL, NULL, NULL,
    CAST(unixepoch('now', '-60 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-30 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-30 days') AS INTEGER) * 1000),
  ('demo-duplicate-take', 'take-2.mp4', '/media/uploads/take-2.mp4', 95.0, 'lecture', NULL, NULL,
    CAST(unixepoch('now', '-40 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-12 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-12 days') AS INTEGER) * 1000),
  ('demo-draft-cut', 'draft-cut.mp4', '/media/uploads/draft-cut.mp4', 310.0, 'sports', NULL, NULL,
    CAST(unixepoch('now', '-5 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-2 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-2 days') AS INTEGER) * 1000);

INSERT OR IGNORE INTO video_context (video_id, context_type, tool_name, timestamp, data, confidence, created_at, updated_at) VALUES
  ('demo-lecture-01', 'transcript', 'whisper', 0.0, '{"text":"Today we start with vectors and what it means to add them.","language":"en","end":6.5}', 0.93, CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000),
  ('demo-lecture-01', 'transcript', 'whisper', 6.5, '{"text":"A vector has a direction and a length.","language":"en","end":10.0}', 0.91, CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000),
  ('demo-lecture-01', 'ocr', 'tesseract', 12.0, '{"text":"v + w = (v1 + w1, v2 + w2)"}', 0.78, CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000),
  ('demo-lecture-01', 'scene', 'clip', NULL, '{"description":"A lecture hall with a blackboard full of equations"}', 0.88, CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000),
  ('demo-lecture-02', 'transcript', 'whisper', 0.0, '{"text":"Last time: vectors. Today: matrices.","language":"en"}', 0.95, CAST(unixepoch('now', '-83 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-83 days') AS INTEGER) * 1000),
  ('demo-street-cam', 'objects', 'yolo', 3600.0, '{"objects":[{"label":"car","confidence":0.92,"box":[120,80,220,140]},{"label":"bicycle","confidence":0.71,"box":[400,210,60,90]}]}', 0.92, CAST(unixepoch('now', '-20 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-20 days') AS INTEGER) * 1000),
  ('demo-street-cam', 'objects', 'yolo', 3660.0, '{"objects":[{"label":"person","confidence":0.88,"box":[300,100,50,150]}]}', 0.88, CAST(unixepoch('now', '-20 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-20 days') AS INTEGER) * 1000),
  ('demo-soccer-final', 'scene', 'clip', 1800.0, '{"description":"A penalty kick in front of a full stadium"}', 0.84, CAST(unixepoch('now', '-10 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-10 days') AS INTEGER) * 1000),
  ('demo-soccer-final', 'faces', 'retina', 1801.0, '{"faces":[{"box":[500,200,40,40]}]}', 0.66, CAST(unixepoch('now', '-10 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-10 days') AS INTEGER) * 1000),
  ('demo-old-upload', 'scene', 'clip', 1.0, '{"description":"Test pattern"}', 0.99, CAST(unixepoch('now', '-60 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-60 days') AS INTEGER) * 1000),
  ('demo-duplicate-take', 'transcript', 'whisper', 0.0, '{"text":"Take two, from the top.","language":"en"}', 0.9, CAST(unixepoch('now', '-40 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-40 days') AS INTEGER) * 1000),
  ('demo-draft-cut', 'scene', 'clip', 0.0, '{"description":"Warm-up on the pitch"}', 0.8, CAST(unixepoch('now', '-5 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-5 days') AS INTEGER) * 1000);

INSERT OR IGNORE INTO memory (id, video_id, timestamp, content, metadata, created_at) VALUES
  (1, 'demo-lecture-01', 6.5, 'Definition of a vector introduced here', '{"kind":"summary"}', CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000),
  (2, 'demo-lecture-01', 12.0, 'Component-wise addition written on the board', '{"kind":"observation"}', CAST(unixepoch('now', '-90 days') AS INTEGER) * 1000),
  (3, 'demo-street-cam', 3600.0, 'Traffic peak begins', NULL, CAST(unixepoch('now', '-20 days') AS INTEGER) * 1000),
  (4, 'demo-soccer-final', 1800.0, 'Penalty awarded', '{"kind":"event"}', CAST(unixepoch('now', '-10 days') AS INTEGER) * 1000),
  (5, 'demo-old-upload', 1.0, 'Only a test pattern', NULL, CAST(unixepoch('now', '-60 days') AS INTEGER) * 1000);

INSERT OR IGNORE INTO conversations (id, video_id, title, created_at, updated_at) VALUES
  ('demo-conv-vectors', 'demo-lecture-01', 'What is a vector?', CAST(unixepoch('now', '-80 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-75 days') AS INTEGER) * 1000),
  ('demo-conv-matrices', 'demo-lecture-02', 'Matrix questions', CAST(unixepoch('now', '-50 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-45 days') AS INTEGER) * 1000),
  ('demo-conv-penalty', 'demo-soccer-final', 'Was it a penalty?', CAST(unixepoch('now', '-3 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-2 days') AS INTEGER) * 1000),
  ('demo-conv-old-upload', 'demo-old-upload', 'Why is this a test pattern?', CAST(unixepoch('now', '-55 days') AS INTEGER) * 1000, CAST(unixepoch('now', '-55 days') AS INTEGER) * 1000);

INSERT OR IGNORE INTO messages (id, conversation_id, role, content, metadata, created_at) VALUES
  (1, 'demo-conv-vectors', 'user', 'What does the lecturer mean by a vector?', NULL, CAST(unixepoch('now', '-80 days') AS INTEGER) * 1000),
  (2, 'demo-conv-vectors', 'assistant', 'At 6.5 s: a quantity with a direction and a length.', '{"sources":[1]}', CAST(unixepoch('now', '-75 days') AS INTEGER) * 1000),
  (3, 'demo-conv-matrices', 'user', 'When do matrices come up?', NULL, CAST(unixepoch('now', '-50 days') AS INTEGER) * 1000),
  (4, 'demo-conv-matrices', 'assistant', 'Right at the start of the second lecture.', NULL, CAST(unixepoch('now', '-45 days') AS INTEGER) * 1000),
  (5, 'demo-conv-penalty', 'user', 'Was the penalty at 30:00 deserved?', NULL, CAST(unixepoch('now', '-3 days') AS INTEGER) * 1000),
  (6, 'demo-conv-penalty', 'assistant', 'The frames around 1800 s show contact in the box.', NULL, CAST(unixepoch('now', '-2 days') AS INTEGER) * 1000),
  (7, 'demo-conv-old-upload', 'user', 'Is there anything in this upload?', NULL, CAST(unixepoch('now', '-55 days') AS INTEGER) * 1000);
