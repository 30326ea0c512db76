package api

func (s *Server) adminRoutes() {}
